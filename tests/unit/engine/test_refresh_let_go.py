"""What a bulk refresh lets go before its scoring groups (decision 0126): the candidates'
touched pairs and the checked pairs are not alive while the groups are scored, and the rows
to store are gathered as node arrays, listing the same nodes as the sets they replace; and
before its events and a rematch's greedy pass (decision 0133)."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine import engine as engine_module
from stream_align.engine import pairs, rematch
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.list_table import ListTable
from stream_align.engine.node_set import NodeSet
from stream_align.engine.pair_book import PairBook
from stream_align.eval.replay import ReplayOrder, triple_changes


def _stream(tmp_path: Path) -> None:
    """The synthetic stream in one bulk batch, then its last 20 changes in batches of 5."""
    pair = synthetic_pair(n=120, seed=3)
    engine = AlignmentEngine.empty(untrained_bundle(pair), engine_settings())
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=1))
    with open_store(tmp_path) as store:
        run(store, engine, changes[:-20])
        run(store, engine, changes[-20:], batch=5)


def test_the_pairs_checked_are_let_go_before_the_groups(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Every refresh, chunks of 64 pairs: when ``_score_all`` starts, neither the candidates'
    pairs (handed over by ``_refresh``) nor the union checked (a loop's last chunk was a view
    of it) is alive."""
    monkeypatch.setattr(pairs, "CHUNK_PAIRS", 64)
    refs: list[weakref.ref] = []
    seen: list[tuple[int, list[bool]]] = []
    candidates, checked = AlignmentEngine._candidates, pairs.PairScores._checked
    score_all = pairs.PairScores._score_all

    def candidates_spy(self, held, stats):
        out = candidates(self, held, stats)
        refs.append(weakref.ref(out))
        return out

    def checked_spy(self, every, *rest):
        refs.append(weakref.ref(every))
        return checked(self, every, *rest)

    def score_all_spy(self, parts):
        seen.append((sum(len(p) for p in parts), [r() is None for r in refs]))
        refs.clear()
        return score_all(self, parts)

    monkeypatch.setattr(AlignmentEngine, "_candidates", candidates_spy)
    monkeypatch.setattr(pairs.PairScores, "_checked", checked_spy)
    monkeypatch.setattr(pairs.PairScores, "_score_all", score_all_spy)
    _stream(tmp_path)
    bulk = [dead for scored, dead in seen if scored > 64]
    assert bulk, "no refresh scored more than one chunk of pairs"
    assert all(len(dead) == 2 and all(dead) for _, dead in seen), seen


def test_rows_to_store_are_the_nodes_a_set_would_list() -> None:
    """``take_changed`` of the list table and the pair book: the distinct nodes set since the
    last call, ascending, as a set fed the same calls lists them (arrays with repeats)."""
    rng = np.random.default_rng(0)
    table, book, plain, lefts = ListTable(), PairBook(), set(), set()
    for _ in range(30):
        nodes = np.unique(rng.integers(0, 5_000, rng.integers(1, 400)))
        others = rng.integers(0, 50, (len(nodes), 4)).astype(np.int32)
        table.assign(nodes, others, np.sort(rng.random((len(nodes), 4)))[:, ::-1].copy(),
                     np.full(len(nodes), 4))
        plain.update(nodes.tolist())
        us = rng.integers(0, 3_000, 200)
        vs = rng.integers(0, 3_000, 200)
        keys = np.unique(us * 4096 + vs)
        book.set_nodes(keys // 4096, keys % 4096, rng.random(len(keys)))
        lefts.update((keys // 4096).tolist())
    assert isinstance(table.changed, NodeSet) and isinstance(book.changed, NodeSet)
    assert table.take_changed() == sorted(plain) and table.take_changed() == []
    assert book.take_changed() == sorted(lefts) and book.take_changed() == []


def test_a_node_set_takes_an_array_as_one_buffer() -> None:
    nodes = NodeSet([7, 3])
    nodes.update(np.array([5, 3, 9, 5], dtype=np.int64))
    nodes.update(np.array([], dtype=np.int64))
    assert list(nodes) == [3, 5, 7, 9] and nodes.array().dtype == np.int32


def test_the_changed_pairs_and_the_books_arrays_are_let_go(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decision 0133: the scores stage's changed pairs are not alive while the events are
    built, nor the book's whole arrays while a rematch's greedy pass runs."""
    changed: list[weakref.ref] = []
    arrays: list[weakref.ref] = []
    dead: dict[str, list[bool]] = {"events": [], "greedy": []}
    update, build, book_arrays = pairs.PairScores.update, engine_module.build_events, \
        PairBook.arrays
    ranks = rematch._ranks

    def update_spy(self, *args, **kwargs):
        out = update(self, *args, **kwargs)
        changed.append(weakref.ref(out))
        return out

    def build_spy(*args, **kwargs):
        dead["events"].append(changed[-1]() is None)
        return build(*args, **kwargs)

    def arrays_spy(self):
        out = book_arrays(self)
        arrays.extend(weakref.ref(a) for a in out[:2])  # the scores are the book's own
        return out

    def ranks_spy(keys):
        dead["greedy"].append(all(r() is None for r in arrays))
        arrays.clear()
        return ranks(keys)

    monkeypatch.setattr(pairs.PairScores, "update", update_spy)
    monkeypatch.setattr(engine_module, "build_events", build_spy)
    monkeypatch.setattr(PairBook, "arrays", arrays_spy)
    monkeypatch.setattr(rematch, "_ranks", ranks_spy)
    _stream(tmp_path)
    assert dead["events"] and all(dead["events"]), dead
    assert dead["greedy"] and all(dead["greedy"]), dead


def test_the_groups_pass_pages_go_back_before_the_changed_pairs_are_joined(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every refresh, chunks of 64 pairs: the heap is given back once the last chunk is
    scored, before the scores stage joins its changed pairs (decision 0138)."""
    monkeypatch.setattr(pairs, "CHUNK_PAIRS", 64)
    order: list[str] = []
    score, unique_of = pairs.PairScores._score, pairs.setops.unique_of
    monkeypatch.setattr(pairs.PairScores, "_score",
                        lambda self, *rest: order.append("chunk") or score(self, *rest))
    monkeypatch.setattr(pairs.heap, "give_back_pass_pages", lambda: order.append("trim"))
    monkeypatch.setattr(pairs.setops, "unique_of",
                        lambda parts: order.append("join") or unique_of(parts))
    _stream(tmp_path)
    calls = " ".join(order).split(" join")
    assert any(call.count("chunk") > 1 for call in calls), order
    assert all(call.strip().endswith("trim") for call in calls if "chunk" in call), order
