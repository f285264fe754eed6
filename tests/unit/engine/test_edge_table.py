"""EdgeTable against a dict of sets under random changes (merges included)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from stream_align.engine import edge_table
from stream_align.engine.edge_table import EdgeTable
from stream_align.engine.mutable_graph import MutableGraph


@pytest.mark.parametrize("delta", [8, 1_000_000])
def test_edge_table_equals_a_dict_of_sets(monkeypatch, delta: int) -> None:
    """``delta`` 8: merges often; 1,000,000: after a first load every read sees recent
    changes over stored rows (``ends_of`` itself does not merge)."""
    monkeypatch.setattr(edge_table, "_MIN_DELTA", delta)
    rng, table, want = random.Random(7), EdgeTable(), {}
    table.load(np.arange(30) % 7, np.arange(30) << 3)  # stored rows the changes then meet
    for node, end in zip((np.arange(30) % 7).tolist(), (np.arange(30) << 3).tolist(),
                         strict=True):
        want.setdefault(node, set()).add(end)
    for step in range(3000):
        node, end = rng.randrange(30), rng.randrange(5) << 32 | rng.randrange(2**31)
        if step % 3 and want.get(node):  # also remove ends that exist
            end = rng.choice(sorted(want[node]))
        if rng.random() < 0.55:
            table.add(node, end)
            want.setdefault(node, set()).add(end)
        else:
            table.discard(node, end)
            want.get(node, set()).discard(end)
        assert table.has(node, end) == (end in want.get(node, set()))
        if step % 101 == 0:
            for x in range(31):
                assert sorted(table.ends(x)) == sorted(want.get(x, ()))
                assert table.count(x) == len(want.get(x, ()))
                for r in range(6):  # one relation's ends (``relation << 32`` ends)
                    mine = sorted(e for e in want.get(x, ()) if e >> 32 == r)
                    assert sorted(table.between(x, r << 32, (r + 1) << 32)) == mine
                    assert table.count_between(x, r << 32, (r + 1) << 32) == len(mine)
            ask = np.array(rng.sample(range(35), 9), dtype=np.int64)
            at, ends = table.ends_of(ask)
            assert sorted(zip(ask[at].tolist(), ends.tolist(), strict=True)) == \
                sorted((x, e) for x in ask.tolist() for e in want.get(x, ()))
    assert len(table) == sum(len(v) for v in want.values())


def test_load_fills_at_once() -> None:
    table = EdgeTable()
    table.load(np.array([3, 1, 3, 3]), np.array([9, 4, 2, 9]))
    assert table.ends(3) == [2, 9] and table.ends(1) == [4] and table.ends(0) == []
    assert table.has(3, 9) and not table.has(1, 9)


def test_held_merges_merge_once_at_the_end(monkeypatch) -> None:
    """Inside ``held_merges`` nothing merges however many changes come (reads see them); the
    block's end merges once."""
    monkeypatch.setattr(edge_table, "_MIN_DELTA", 8)
    merges: list[int] = []
    table = EdgeTable()
    merge = table._merge
    monkeypatch.setattr(table, "_merge", lambda: (merges.append(table._changes), merge()))
    assert not table.has(0, 5)  # an empty table answers without a search
    with table.held_merges():
        for node in range(100):
            table.add(node % 9, node)
        table.discard(3, 3)
        assert merges == []
        assert table.has(1, 10) and not table.has(3, 3) and table.count(3) == 10
    assert merges == [100]
    assert table.ends(3) == [12, 21, 30, 39, 48, 57, 66, 75, 84, 93] and len(table) == 99


@pytest.mark.parametrize("seed", [0, 1])
def test_own_edges_come_in_each_nodes_triple_order(seed: int) -> None:
    """``MutableGraph.own_edges``: each asked node's out-edges by ``(relation, tail)``, then
    its in-edges by ``(head, relation)`` — the order of its ascending triples, out first —
    whether loaded (merged) or changed since (unmerged, unordered in the table)."""
    rng = random.Random(seed)
    graph = MutableGraph("A", "a")
    for i in range(30):
        graph.upsert(f"e{i:02d}", "", {})
    triples = {(rng.randrange(30), rng.randrange(5), rng.randrange(30)) for _ in range(150)}
    graph.load_triples(np.array(sorted(triples), dtype=np.int64))
    for _ in range(40):
        t = (rng.randrange(30), rng.randrange(5), rng.randrange(30))
        if t in triples:
            graph.remove_triple(*t)
            triples.discard(t)
        else:
            graph.add_triple(*t)
            triples.add(t)
    nodes = np.array(sorted(rng.sample(range(30), 12)), dtype=np.int64)
    at, other, relation, out = graph.own_edges(nodes)
    got = list(zip(at.tolist(), other.tolist(), relation.tolist(), out.tolist(), strict=True))
    want = [(i, t, r, True) for i, n in enumerate(nodes.tolist())
            for h, r, t in sorted(triples) if h == n]
    want += [(i, h, r, False) for i, n in enumerate(nodes.tolist())
             for h, r, t in sorted(triples) if t == n]
    assert got == want
