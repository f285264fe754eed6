"""The ``h1`` rows are stored with the state and a restore reads them (decision 0135)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from engine_fixtures import engine_settings, forget_level1, open_store, run

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.side import Side
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import TripleChange, TripleOp
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.state_store import StateStore

torch.set_num_threads(1)


def _restore(store: StateStore, bundle: ModelBundle, **overrides: object) -> AlignmentEngine:
    with store.transaction() as tx:
        return AlignmentEngine.restore(bundle, StoredState(tx), engine_settings(**overrides))


def _cache(side: Side) -> tuple[list[int], np.ndarray, np.ndarray]:
    """The nodes with a kept row (live or not), their rows and current flags."""
    nodes = np.arange(len(side.graph.keys), dtype=np.int64)
    kept = sorted(set(nodes.tolist()) - set(side.level1.missing(nodes)))
    return kept, side.level1.rows(kept)[:-1].numpy(), side.level1.current(
        np.asarray(kept, dtype=np.int64))


def _assert_same_cache(live: AlignmentEngine, restored: AlignmentEngine) -> None:
    """Every live entity's row and flag as the live engine keeps them, bit for bit; the
    restored engine's other rows are of queued entities the live one has not computed yet
    (the restore warms them, decision 0104)."""
    for s in (0, 1):
        nodes, rows, current = _cache(live.sides[s])
        alive = live.sides[s].graph.alive_mask(np.asarray(nodes, dtype=np.int64))
        keys = [live.sides[s].graph.keys[n] for n in nodes]
        got_nodes, got_rows, got_current = _cache(restored.sides[s])
        index = restored.sides[s].graph.index
        want = [index[k] for k, a in zip(keys, alive, strict=True) if a]
        more = {restored.sides[s].graph.keys[n] for n in set(got_nodes) - set(want)}
        queued = {live.sides[s].graph.keys[n] for n in live.pending[s]}
        assert set(want) <= set(got_nodes) and more <= queued, f"side {s}: rows of others"
        at = [got_nodes.index(n) for n in want]
        assert got_rows[at].tobytes() == rows[alive].tobytes(), f"side {s}: rows differ"
        assert (got_current[at] == current[alive]).all(), f"side {s}: current flags differ"


def test_a_restore_keeps_every_row_as_the_live_engine_did(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """After every batch, queued work included (a small work bound), the restored engine
    keeps the live engine's rows and current flags bit for bit; drained, it computes none,
    and the next batch scores the same pairs to the same bits."""
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=3))
    settings = {"max_affected_per_batch": 12}
    live = AlignmentEngine.empty(bundle, engine_settings(**settings))
    queued = 0
    with open_store(tmp_path) as store:
        for start in range(0, len(changes), 60):
            run(store, live, changes[start:start + 60])
            queued += live.pending_count > 0
            _assert_same_cache(live, _restore(store, bundle, **settings))
        assert queued, "the test wants restores with queued work"
        while live.pending_count:
            run(store, live, [])
        restored = _restore(store, bundle, **settings)
        _assert_same_cache(live, restored)
        for side in restored.sides:  # nothing computed, so nothing to write back
            assert not len(side.level1.take_written()[0])
            assert side.level0.nbytes() == 0
        more = changes[:30]  # triples again: no-ops, and entities upserted anew
        live.process(more, [])
        restored.process(more, [])
        assert live.book.scores == restored.book.scores


def test_a_deleted_entity_loses_its_stored_row(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """Deleting an entity deletes its row in the same delta; the others stay."""
    live = AlignmentEngine.empty(bundle, engine_settings())
    with open_store(tmp_path) as store:
        run(store, live, list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=3)))
        gid, key = live.sides[0].graph.graph_id, live.sides[0].graph.keys[3]
        with store.transaction() as tx:
            assert key in tx.level1.read_all(gid, bundle.version).keys
            outcome = process_into(tx, live, [TripleChange.new(
                graph="A", op=TripleOp.DELETE_ENTITY, head=key)], [])
        written = outcome.delta.level1[gid]
        assert written.kept.tolist()[written.keys.index(key)] is False
        with store.transaction() as tx:
            stored = tx.level1.read_all(gid, bundle.version).keys
        assert key not in stored and len(stored) == len(live.sides[0].graph.alive_indices())
        _assert_same_cache(live, _restore(store, bundle))


def test_a_state_without_rows_is_warmed_and_stores_them_with_the_next_delta(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """A state written before decision 0135: the restore warms the rows as before, the next
    call's delta carries them, and a restore after it reads them and warms none."""
    live = AlignmentEngine.empty(bundle, engine_settings())
    with open_store(tmp_path) as store:
        run(store, live, list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=3)))
        forget_level1(store, engine_settings().graph_ids, bundle.version)
        old = _restore(store, bundle)
        for side in old.sides:
            assert not side.level1.missing(side.graph.alive_indices())
        with store.transaction() as tx:
            outcome = process_into(tx, old, [], [])
        for side in old.sides:
            written = outcome.delta.level1[side.graph.graph_id]
            assert sorted(written.keys) == sorted(side.graph.keys.take(
                side.graph.alive_indices()))
        again = _restore(store, bundle)
        _assert_same_cache(old, again)
        for side in again.sides:
            assert not len(side.level1.take_written()[0])
