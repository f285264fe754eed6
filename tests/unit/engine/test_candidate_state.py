"""Stored candidate lists and pair scores: a restore reads them, exactly, when they are current
(decision 0033), and rebuilds them when the engine that stored them held work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import engine_settings, open_store, synthetic_pair, untrained_bundle

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.list_table import ListTable
from stream_align.engine.pair_table import PairTable
from stream_align.engine.pairs import PairScores
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.service.engine_state import StoredState, process_into


def _tables(engine: AlignmentEngine) -> dict[str, object]:
    """Lists with scores and bounds, and every pair score, by key (exact values)."""
    out: dict[str, object] = {"pairs": dict(engine.book.scores)}
    for s, side in enumerate(engine.sides):
        other = engine.sides[1 - s].graph.keys
        out[f"lists{s}"] = {side.graph.keys[n]: ([(score, other[m]) for score, m in
                                                 side.lists.get(n)], side.bound_of(n))
                            for n in side.lists}
        out[f"listed_by{s}"] = {other[m]: sorted(side.graph.keys[x]
                                                 for x in side.listed_by.get(m))
                                for m in range(len(other)) if side.listed_by.get(m)}
    return out


def _no_rebuild(*_: object) -> None:
    raise AssertionError("a restore from current rows must not rebuild lists or scores")


def test_a_restore_reads_the_committed_lists_and_scores_exactly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pair = synthetic_pair(40, seed=5)
    bundle, settings = untrained_bundle(pair), engine_settings()
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=2))
    with open_store(tmp_path / "db") as store:
        engine = AlignmentEngine.empty(bundle, settings)
        for start in range(0, len(changes), 60):
            with store.transaction() as tx:
                process_into(tx, engine, changes[start:start + 60], [])
            with store.transaction() as tx:
                assert tx.candidates.state()  # nothing held: the rows are current
            with monkeypatch.context() as patch:
                patch.setattr(PairScores, "rebuild", _no_rebuild)
                with store.transaction() as tx:
                    restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
            assert _tables(restored) == _tables(engine)
        assert engine.book.scores and engine.sides[0].lists


def test_rows_stored_while_work_is_held_are_rebuilt_on_restore(tmp_path: Path) -> None:
    """Mid-drain (held lists) the stored state says so; the restore rebuilds, and its next
    delta rewrites every row, after which a restore reads them again."""
    pair = synthetic_pair(40, seed=6)
    bundle = untrained_bundle(pair)
    settings = engine_settings(max_affected_per_batch=10, rebuild_share=0.05)
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    with open_store(tmp_path / "db") as store:
        engine = AlignmentEngine.empty(bundle, settings)
        with store.transaction() as tx:
            process_into(tx, engine, changes, [])
        with store.transaction() as tx:
            process_into(tx, engine, [], [])
        with store.transaction() as tx:
            assert engine.pending_count and tx.candidates.state() == ""  # held: not current
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        assert restored.held.everywhere
        deltas = []
        while restored.pending_count:
            with store.transaction() as tx:
                deltas.append(process_into(tx, restored, [], []).delta)
        while engine.pending_count:
            engine.process([], [])
        assert deltas[0].candidates_reset and deltas[-1].candidates
        with store.transaction() as tx:
            again = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        assert not again.held.everywhere
        assert _tables(again) == _tables(restored)
        members = [{key: [m for _, m in row] for key, (row, _) in _tables(e)["lists0"].items()}
                   for e in (restored, engine)]  # scores: other batch shapes, other last bits
        assert members[0] == members[1]


def test_list_table_load_equals_rows_set_one_by_one() -> None:
    rng = np.random.default_rng(0)
    one, bulk = ListTable(), ListTable()
    nodes = np.array([3, 0, 7], dtype=np.int64)
    members = np.array([[5, 2, 9], [4, -1, -1], [2, 8, 1]], dtype=np.int32)
    scores = rng.random(members.shape).astype(np.float32)
    for n, row, sc in zip(nodes, members, scores, strict=True):
        one[int(n)] = [(float(s), int(m)) for s, m in zip(sc, row, strict=True) if m >= 0]
    bulk.load(nodes, members, scores)
    assert len(bulk) == len(one) == 3 and bulk.keys() == one.keys()
    for n in range(9):
        assert bulk.get(n) == one.get(n)
        assert sorted(bulk.listed_by.get(n)) == sorted(one.listed_by.get(n))
    got, _, lengths = bulk.rows(np.array([0, 3, 5]))
    assert got[0, :1].tolist() == [4] and got[1].tolist() == [5, 2, 9]
    assert lengths.tolist() == [1, 3, 0]
    assert one.take_changed() == [0, 3, 7] and bulk.take_changed() == []


def test_pair_table_rows_include_unmerged_changes() -> None:
    table = PairTable()
    table.load(np.array([1, 1, 2]), np.array([5, 3, 4]), np.array([0.5, 0.25, 1.0]))
    table.put(1, 4, 0.75)
    table.discard(1, 5)
    offsets, rights, values = table.rows(np.array([1, 2, 9]))
    assert offsets.tolist() == [0, 2, 3, 3]
    assert rights.tolist() == [3, 4, 4] and values.tolist() == [0.25, 0.75, 1.0]
