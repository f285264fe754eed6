"""A bulk refresh's list and pair rows committed in slices before the batch's own commit
(``service.row_slices``): the store ends as one commit leaves it, and a kill after any slice
leaves rows marked not current that the restart rebuilds to the same lists and decisions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import engine_settings, open_store, synthetic_pair, untrained_bundle
from test_candidate_state import _no_rebuild, _tables

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.pairs import PairScores
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import TripleChange as T
from stream_align.service.engine_state import StoredState, write_delta
from stream_align.service.row_slices import candidate_rows, commit_rows_first, forget_kept
from stream_align.store.keys import Table
from stream_align.store.recovery import undo_row_slices
from stream_align.store.state_store import StateStore

SETTINGS = {"max_affected_per_batch": 10, "rebuild_share": 0.05}  # a held drain, one refresh


def _drain(store: StateStore, engine: AlignmentEngine, sliced: int, stop: int | None = None
           ) -> int:
    """Process the queue to its end, each call committed (its candidate rows in slices of
    ``sliced`` rows first where ``sliced``); ``stop``: after that many slices of a call,
    end as a kill would (the call's own transaction never commits). Returns the slices."""
    slices = 0
    while engine.pending_count:
        delta = engine.process([], []).delta
        now = 0
        if sliced:
            if stop is not None and candidate_rows(delta) > sliced:
                return commit_rows_first(_Stopping(store, stop), delta, sliced)
            slices += (now := commit_rows_first(store, delta, sliced))
        with store.transaction() as tx:
            forget_kept(tx, now)
            write_delta(tx, delta)
    return slices


class _Stopping:
    """A store whose transactions after the ``stop``-th raise before they commit (a kill)."""

    def __init__(self, store: StateStore, stop: int) -> None:
        self.store, self.left = store, stop

    def transaction(self) -> object:  # the store's own transaction
        if not self.left:
            raise _Killed
        self.left -= 1
        return self.store.transaction()


class _Killed(Exception):
    pass


def _loaded(path: Path, held: bool = True) -> tuple[StateStore, AlignmentEngine]:
    pair = synthetic_pair(40, seed=6)
    bundle, settings = untrained_bundle(pair), engine_settings(**(SETTINGS if held else {}))
    store = open_store(path)
    engine = AlignmentEngine.empty(bundle, settings)
    with store.transaction() as tx:
        write_delta(tx, engine.process(list(triple_changes(pair, ReplayOrder.FILE)), []).delta)
    return store, engine


def _rows(store: StateStore) -> dict[Table, list[tuple[bytes, bytes]]]:
    """Every table's rows but the random identities (the store's, the event numbering's)."""
    with store.transaction() as tx:
        return {table: [(k, v) for k, v in tx.rows(table) if b"identity" not in k]
                for table in Table}


def test_rows_in_slices_then_the_commit_leave_the_store_as_one_commit(tmp_path: Path) -> None:
    whole, engine = _loaded(tmp_path / "whole")
    cut, again = _loaded(tmp_path / "cut")
    with whole, cut:
        assert _drain(whole, engine, 0) == 0
        assert _drain(cut, again, 7) > 4  # lists of both graphs and pair rows, cut
        assert _rows(cut) == _rows(whole)
        with cut.transaction() as tx:
            assert tx.candidates.state()  # current again


def test_rows_current_before_and_after_keep_their_state(tmp_path: Path) -> None:
    """The steady tail's shape (nothing held, the state unchanged by the call): the stored
    state the first slice marks not current is written back by the batch's commit."""
    whole, engine = _loaded(tmp_path / "whole", held=False)
    cut, again = _loaded(tmp_path / "cut", held=False)
    with whole, cut:
        gone = [T.delete_entity("A", key) for key in list(engine.sides[0].graph.keys)[:3]]
        deltas = [e.process(gone, []).delta for e in (engine, again)]
        assert deltas[1].candidates is None and candidate_rows(deltas[1]) > 1
        with whole.transaction() as tx:
            write_delta(tx, deltas[0])
        sliced = commit_rows_first(cut, deltas[1], 1)
        assert sliced > 1
        with cut.transaction() as tx:
            forget_kept(tx, sliced)
            write_delta(tx, deltas[1])
        assert _rows(cut) == _rows(whole)
        with cut.transaction() as tx:
            assert tx.candidates.state()


def test_a_kill_after_any_slice_rebuilds_the_rows_to_the_same_state(tmp_path: Path) -> None:
    reference, engine = _loaded(tmp_path / "ref")
    with reference:
        _drain(reference, engine, 0)
        expected = _tables(engine), engine.final_alignment()
    for stop in (1, 3, 6):
        store, killed = _loaded(tmp_path / f"kill{stop}")
        with store:
            with pytest.raises(_Killed):
                _drain(store, killed, 7, stop)
            with store.transaction() as tx:
                assert tx.candidates.state() == ""  # the slices' rows are not current
                restored = AlignmentEngine.restore(killed.bundle, StoredState(tx),
                                                   killed.settings)
            assert restored.pending_count  # the refresh's call re-runs
            _drain(store, restored, 7)
            got = _tables(restored)
            assert restored.final_alignment().keys() == expected[1].keys()
            for name in ("lists0", "lists1"):  # members; scores: other batch shapes
                assert {k: [m for _, m in row] for k, (row, _) in got[name].items()} == {
                    k: [m for _, m in row] for k, (row, _) in expected[0][name].items()}
            with store.transaction() as tx:  # the restart's rows are current and read back
                assert tx.candidates.state()
                read = AlignmentEngine.restore(killed.bundle, StoredState(tx), killed.settings)
            assert _tables(read) == got


def test_a_kill_while_rows_are_reset_leaves_them_not_current_for_any_settings(
        tmp_path: Path) -> None:
    """Rows current under other settings, reset by a restore under new ones and killed after
    a slice: they are marked not current, so a restart under the *old* settings rebuilds them
    instead of reading a half-rewritten table."""
    store, engine = _loaded(tmp_path / "db")
    with store:
        _drain(store, engine, 0)
        before = _tables(engine)
        wider = engine_settings(**SETTINGS, top_k=4)
        with store.transaction() as tx:
            assert tx.candidates.state()
            other = AlignmentEngine.restore(engine.bundle, StoredState(tx), wider)
        delta = other.process([], []).delta
        assert delta.candidates_reset and candidate_rows(delta) > 7
        with pytest.raises(_Killed):
            commit_rows_first(_Stopping(store, 1), delta, 7)
        with store.transaction() as tx:
            assert tx.candidates.state() == ""
            back = AlignmentEngine.restore(engine.bundle, StoredState(tx), engine.settings)
        members = [{k: [m for _, m in row] for k, (row, _) in t["lists0"].items()}
                   for t in (_tables(back), before)]
        assert members[0] == members[1]


def test_a_kill_between_a_steady_batchs_slices_puts_the_rows_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows current before a batch that does not reset them (the steady tail's shape): each
    slice keeps what it overwrites, so a kill after any slice is undone on restart to the rows
    and state of before the batch — read back, not rebuilt — and the batch's re-run commits
    the store a kill before the commit (a restart, then the batch) leaves, with the decisions
    of the uninterrupted run; its commit forgets what was kept."""
    whole, engine = _loaded(tmp_path / "whole", held=False)
    with whole:
        gone = [T.delete_entity("A", key) for key in list(engine.sides[0].graph.keys)[:3]]
        with whole.transaction() as tx:
            write_delta(tx, engine.process(gone, []).delta)
        decided = _rows(whole)[Table.DECISION]
    restarted, first = _loaded(tmp_path / "restarted", held=False)
    with restarted:
        with restarted.transaction() as tx:
            again = AlignmentEngine.restore(first.bundle, StoredState(tx), first.settings)
        with restarted.transaction() as tx:
            write_delta(tx, again.process(gone, []).delta)
        expected = _rows(restarted)
    assert expected[Table.DECISION] == decided
    for stop in (1, 3):
        store, killed = _loaded(tmp_path / f"kill{stop}", held=False)
        with store:
            before = _rows(store)
            delta = killed.process(gone, []).delta
            assert not delta.candidates_reset and candidate_rows(delta) > 4
            with pytest.raises(_Killed):
                commit_rows_first(_Stopping(store, stop), delta, 1)
            with store.transaction() as tx:
                assert tx.candidates.state() == ""  # as before: never read as current
            assert undo_row_slices(store, per_transaction=2) == stop
            assert _rows(store) == before  # rows, state; nothing kept any more
            with monkeypatch.context() as patch:
                patch.setattr(PairScores, "rebuild", _no_rebuild)
                with store.transaction() as tx:
                    restored = AlignmentEngine.restore(killed.bundle, StoredState(tx),
                                                       killed.settings)
            again = restored.process(gone, []).delta
            with store.transaction() as tx:
                forget_kept(tx, commit_rows_first(store, again, 1))
                write_delta(tx, again)
            assert _rows(store) == expected
            assert undo_row_slices(store) == 0 and _rows(store) == expected


def test_row_parts_equal_the_whole_rows(tmp_path: Path) -> None:
    """A refresh's rows built a part at a time (``RowParts``, decision 0097) are the rows built
    at once, cut: list rows and each part's pair offsets from zero."""
    store, engine = _loaded(tmp_path / "s", held=False)
    with store:
        gone = [T.delete_entity("A", key) for key in list(engine.sides[0].graph.keys)[:3]]
        delta = engine.process(gone, []).delta
        assert delta.lists and delta.pair_scores is not None
        for parts in [*delta.lists.values(), delta.pair_scores]:
            whole = parts.whole()
            assert len(whole.keys) == len(parts) > 1
            cut = [parts.part(lo, lo + 2) for lo in range(0, len(parts), 2)]
            assert [k for c in cut for k in c.keys] == whole.keys
            for name in ("bounds", "members", "cells", "anchors", "rights", "scores"):
                if getattr(whole, name, None) is not None:
                    assert np.array_equal(np.concatenate([getattr(c, name) for c in cut]),
                                          getattr(whole, name)), name
            if hasattr(whole, "offsets"):
                ends = np.cumsum([c.offsets[-1] for c in cut])
                assert ends[-1] == whole.offsets[-1]
                assert all(c.offsets[0] == 0 for c in cut)
