"""Shared-anchor candidates stored with the list rows (decision 0089): a restore reads them
instead of recomputing them from every sample, and gets what a recompute gets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run
from test_anchor_heads import CAP, M, _check, _removal, anchored_pair

from stream_align.engine.candidate_state import LEGACY_ROWS, fingerprint
from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import TripleOp
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.service.engine_state import StoredState
from stream_align.store.state_store import StateStore

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def anchored() -> tuple[GraphPair, ModelBundle]:
    return anchored_pair()


def _settings(threads: int = 1):
    return engine_settings(anchor_candidates=M, anchor_fanout=CAP, restore_threads=threads)


def _stream(store: StateStore, pair: GraphPair, bundle: ModelBundle) -> AlignmentEngine:
    """The pair in batches of 20, then removals: rows that came and went, through the store."""
    live = AlignmentEngine.empty(bundle, _settings())
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=5))
    run(store, live, changes, batch=20)
    triples = [c for c in changes if c.op is TripleOp.ADD_TRIPLE]
    picked = np.random.default_rng(0).choice(len(triples), 12, replace=False)
    run(store, live, [_removal(triples[i]) for i in picked.tolist()], batch=6)
    while live.pending_count:
        run(store, live, [])
    return live


def _by_key(engine: AlignmentEngine, s: int) -> dict[str, list[str]]:
    assert engine.anchors is not None
    mine, other = engine.sides[s].graph, engine.sides[1 - s].graph
    nodes = np.arange(len(mine.keys))
    rows = engine.anchors.rows(s, nodes)
    return {mine.keys[n]: [other.keys[m] for m in row if m >= 0]
            for n, row in zip(nodes.tolist(), rows.tolist(), strict=True)
            if mine.is_alive(n) and (np.asarray(row) >= 0).any()}


def _restore(store: StateStore, bundle: ModelBundle, threads: int) -> AlignmentEngine:
    with store.transaction() as tx:
        return AlignmentEngine.restore(bundle, StoredState(tx), _settings(threads))


@pytest.mark.parametrize("threads", [1, 2])
def test_a_restore_reads_the_rows_a_recompute_would_give(tmp_path: Path, anchored,
                                                        threads: int) -> None:
    """Fails if a row that moved was not stored, or a stored row is read wrongly."""
    pair, bundle = anchored
    with open_store(tmp_path / "db") as store:
        live = _stream(store, pair, bundle)
        restored = _restore(store, bundle, threads)
    assert restored.anchors is not None
    assert restored.anchors.recomputed == 0  # read, not recomputed
    assert any(_by_key(live, s) for s in (0, 1))
    for s in (0, 1):
        assert _by_key(restored, s) == _by_key(live, s)
        assert not len(restored.anchors.take_changed(s))  # nothing to store back
    _check(restored)
    assert not len(restored.anchors.rebuild())  # a recompute moves no row


def test_a_row_stored_with_a_member_without_an_id_is_recomputed_and_stored_again(
        tmp_path: Path, anchored) -> None:
    pair, bundle = anchored
    with open_store(tmp_path / "db") as store:
        live = _stream(store, pair, bundle)
        with store.transaction() as tx:
            block = tx.candidates.list_block("A")
            i = int(np.flatnonzero((block.anchors >= 0).any(axis=1))[0])
            ends = np.cumsum(block.lengths)
            ids = block.ids[ends[i] - block.lengths[i]:ends[i]]
            scores = block.scores[ends[i] - block.lengths[i]:ends[i]]
            anchors = block.anchors[i:i + 1].copy()
            anchors[0, 0] = -2  # as written while that member had no vector yet
            tx.candidates.put_lists("A", [block.keys[i]], block.bounds[i:i + 1], ids[None],
                                    scores[None], None, anchors)
        restored = _restore(store, bundle, 1)
        _check(restored)
        assert _by_key(restored, 0) == _by_key(live, 0)
        run(store, restored, [])  # the recomputed row goes out with the next delta
        with store.transaction() as tx:
            again = tx.candidates.list_block("A")
    assert again.keys == block.keys
    assert np.array_equal(again.anchors, block.anchors)


def test_rows_stored_before_the_anchor_candidates_are_read_and_written_again(
        tmp_path: Path, anchored) -> None:
    """An upgrade: the lists are read (not rebuilt), the anchor candidates recomputed, and
    the next delta writes every row in the new format, under the new fingerprint."""
    pair, bundle = anchored
    with open_store(tmp_path / "db") as store:
        live = _stream(store, pair, bundle)
        before: dict[str, object] = {}
        with store.transaction() as tx:
            for gid in ("A", "B"):
                block = before[gid] = tx.candidates.list_block(gid)
                ends = np.cumsum(block.lengths)
                width = int(block.lengths.max())
                ids = np.full((len(block.keys), width), -1, dtype=np.int64)
                scores = np.zeros((len(block.keys), width), dtype=np.float32)
                for i, (hi, n) in enumerate(zip(ends.tolist(), block.lengths.tolist(),
                                                strict=True)):
                    ids[i, :n], scores[i, :n] = block.ids[hi - n:hi], block.scores[hi - n:hi]
                tx.candidates.put_lists(gid, block.keys, block.bounds, ids, scores, None, None,
                                        legacy=True)
            tx.candidates.set_state(fingerprint(bundle.version, live.settings, LEGACY_ROWS))
            assert tx.candidates.list_block("A", anchors=False).keys == [
                k for k, n in zip(before["A"].keys, before["A"].lengths, strict=True) if n]
        restored = _restore(store, bundle, 2)
        assert restored.anchors is not None and restored.anchors.recomputed > 0
        assert not restored._delta.candidates_reset  # the lists were read
        for s in (0, 1):
            assert _by_key(restored, s) == _by_key(live, s)
        run(store, restored, [])
        with store.transaction() as tx:
            assert tx.candidates.state() == fingerprint(bundle.version, live.settings)
            for gid in ("A", "B"):
                again = tx.candidates.list_block(gid)
                assert again.keys == before[gid].keys
                assert np.array_equal(again.anchors, before[gid].anchors)
                assert np.array_equal(again.ids, before[gid].ids)
        assert _by_key(_restore(store, bundle, 1), 0) == _by_key(live, 0)
