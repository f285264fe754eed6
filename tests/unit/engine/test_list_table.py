"""The numpy list table behaves as the dict of lists it replaced, and stores scores exactly;
the vectorised repair equals the per-list merge it replaced."""

from __future__ import annotations

import numpy as np

from stream_align.engine.list_repair import FreshRows, merge
from stream_align.engine.list_table import ListTable


def test_list_table_is_the_mapping_it_replaced() -> None:
    rng = np.random.default_rng(0)
    table, truth = ListTable(), {}
    for _ in range(500):
        node = int(rng.integers(0, 60))
        if rng.random() < 0.25:
            assert table.pop(node, ()) == truth.pop(node, ())
            continue
        n = int(rng.integers(0, 25))
        scores = np.sort(rng.random(n).astype(np.float32))[::-1].tolist()
        entries = list(zip(scores, rng.integers(0, 1000, n).tolist(), strict=True))
        table[node] = entries
        if entries:
            truth[node] = entries
        else:
            truth.pop(node, None)
    assert table.keys() == truth.keys() and len(table) == len(truth)
    for node in range(60):
        assert table.get(node, ()) == truth.get(node, ())
        assert (node in table) == (node in truth)
    table.top_k = 3
    nodes, others = np.repeat(np.arange(70), 1000), np.tile(np.arange(1000), 70)
    assert table.holds(nodes, others).tolist() == [  # past the table's rows too
        y in table.heads.get(x, ()) for x, y in zip(nodes.tolist(), others.tolist(), strict=True)]


def _merge_one(entries: list, bound: float, fresh: dict, depth: int, k: int
               ) -> tuple[list, float] | None:
    """The per-list Python merge that ``list_repair.merge`` replaced (the reference)."""
    known = {y: score for score, y in entries}
    known.update(fresh)
    merged = sorted(((s, y) for y, s in known.items() if s is not None), reverse=True)
    if bound != float("-inf") and sum(1 for s, _ in merged[:k] if s >= bound) < k:
        return None
    if len(merged) > depth:
        bound = max(bound, merged[depth][0])
        merged = merged[:depth]
    return merged, bound


def test_vectorised_repair_equals_the_per_list_merge() -> None:
    """Random lists (ties included: scores on a coarse grid) and fresh rows — new scores,
    entering members, leaving ones, repeated rows — repaired at once equal the old merge of
    each list, including which lists lose their top-k (searched again)."""
    rng = np.random.default_rng(5)
    depth, k = 4, 3
    searched_again = 0
    for _ in range(30):
        table, bounds = ListTable(), np.full(40, -np.inf)
        table.top_k = k
        for node in range(40):
            n = int(rng.integers(0, depth + 1))
            scores = np.sort(rng.integers(0, 12, n).astype(np.float32) / 4)[::-1]
            members = rng.choice(10, n, replace=False)
            table[node] = list(zip(scores.tolist(), members.tolist(), strict=True))
            if n == depth:
                bounds[node] = float(scores[-1]) - float(rng.integers(0, 2)) / 4
        rows, fresh = FreshRows(), {}
        for _ in range(int(rng.integers(1, 4))):
            count = int(rng.integers(0, 200))
            owner, member = rng.integers(0, 40, count), rng.integers(0, 10, count)
            score = rng.integers(0, 12, count).astype(np.float64) / 4
            score[rng.random(count) < 0.2] = np.nan
            rows.add(owner, member, score)
            for x, y, s in zip(owner.tolist(), member.tolist(), score.tolist(), strict=True):
                fresh.setdefault(x, {})[y] = None if np.isnan(s) else s
        skip = np.array([3, 7], dtype=np.int64)
        found, unknown = merge(table, lambda nodes, b=bounds: b[nodes], rows, skip, depth, k)
        want = {x: _merge_one(table.get(x, []), bounds[x], f, depth, k)
                for x, f in fresh.items() if x not in (3, 7)}
        assert sorted(unknown.tolist()) == sorted(x for x, w in want.items() if w is None)
        searched_again += len(unknown)
        assert sorted(found.owners.tolist()) == sorted(x for x, w in want.items() if w)
        for i, x in enumerate(found.owners.tolist()):
            n = int(found.lengths[i])
            got = list(zip(found.scores[i, :n].tolist(), found.members[i, :n].tolist(),
                           strict=True))
            assert (got, float(found.bounds[i])) == want[x]
    assert searched_again  # the case where a list's top-k becomes unknown was exercised
