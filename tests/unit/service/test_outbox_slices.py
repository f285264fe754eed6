"""A batch's outbox records committed in slices: the outbox the batch's commit leaves is the
one staging them in its own transaction leaves (records, order, sequence numbers), nothing of
an uncommitted batch is read or published, and a restart's discard leaves the store as a crash
before the commit did, so the re-run's outbox equals the uninterrupted one."""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_align.events.codec import CodecSettings
from stream_align.events.contracts import AlignmentEvent, Decision, Evidence
from stream_align.service.batch import BatchCodec
from stream_align.service.outbox_slices import stage_outbox
from stream_align.service.settings import KafkaSettings
from stream_align.store import StateStore, StoreSettings
from stream_align.store.records import OutboxRecord
from stream_align.store.recovery import ack_outbox, discard_open_outbox, iter_outbox

CODEC = BatchCodec(KafkaSettings(), CodecSettings())
LETTERS = [OutboxRecord("kg.triples.dlq", f"x{i}".encode(), f"bad {i}".encode())
           for i in range(3)]


class Crash(Exception):
    """Stands for a kill -9 between the slices and the batch's own commit."""


def _events(n: int = 9) -> list[AlignmentEvent]:
    evidence = (Evidence(left_neighbour="a:n", right_neighbour="b:n", weight=0.5),)
    events = [AlignmentEvent.new(id_from=("run", i), event_time=1_000 + i, left=f"a:{i}",
                                 right=f"b:{i}", decision=Decision.MATCH, score=0.9,
                                 model_version="v", evidence=evidence, cause=(f"c{i}",))
              for i in range(n)]
    events.append(AlignmentEvent.new(id_from=("run", n), event_time=900, left="a:1",
                                     right="b:1", decision=Decision.RETRACT, score=0.1,
                                     previous_decision=Decision.MATCH, previous_score=0.9,
                                     model_version="v"))
    return events


def _store(path: Path) -> StateStore:
    return StateStore(StoreSettings(path=path, block_cache_mb=8, memtable_budget_mb=8))


def _outbox(store: StateStore) -> list[tuple[int, OutboxRecord]]:
    return [(entry.seq, entry.record) for entry in iter_outbox(store)]


def _batch(store: StateStore, per_slice: int, crash: bool = False):
    """One batch: an earlier committed entry, then the batch's letters and events staged with
    ``per_slice``; ``crash``: the batch's own transaction never commits."""
    events = _events()
    with store.transaction() as tx:
        tx.event_seq.set_next_seq(7)  # stands for the batch's own state
        staged = stage_outbox(store, tx, CODEC, list(LETTERS), events, per_slice)
        assert events == []  # emptied as it is staged
        if crash:
            raise Crash
    return staged


@pytest.mark.parametrize("per_slice", [1, 2, 5, 13])
def test_slices_leave_the_outbox_one_transaction_leaves(tmp_path: Path, per_slice: int) -> None:
    with _store(tmp_path / "one") as store:
        whole = _batch(store, 100)
        expected = _outbox(store)
    with _store(tmp_path / "sliced") as store:
        sliced = _batch(store, per_slice)
        assert _outbox(store) == expected
        with store.transaction() as tx:
            assert tx.delivery.append(LETTERS[0]) == expected[-1][0] + 1  # the counter moved on
    assert len(expected) == 3 + 2 * 10 and expected[-1][1].value is None
    assert [seq for seq, _ in expected][:5] == [0, 1, 2, 3, 3]  # letters, then a MATCH's entry
    assert (sliced.times, sliced.decisions, sliced.records) == (
        whole.times, whole.decisions, whole.records)


def test_a_crash_between_slices_publishes_nothing_and_the_rerun_converges(
        tmp_path: Path) -> None:
    with _store(tmp_path / "calm") as store:
        _batch(store, 100)
        expected = _outbox(store)
    with _store(tmp_path / "crash") as store:
        with pytest.raises(Crash):
            _batch(store, 4, crash=True)
        assert _outbox(store) == []  # the slices' entries are not the outbox's
        ack_outbox(store, 1_000)  # a drain acknowledges only what it read: nothing
        with store.transaction() as tx:
            assert tx.event_seq.next_seq() == 0  # the batch's own state never landed
        assert discard_open_outbox(store) == 14  # 3 letters, 9 MATCH entries, a RETRACT's 2
        assert discard_open_outbox(store) == 0
        _batch(store, 4)  # the restart re-runs the batch
        assert _outbox(store) == expected


def test_open_slices_hide_only_the_uncommitted_batch(tmp_path: Path) -> None:
    with _store(tmp_path / "s") as store:
        with store.transaction() as tx:
            for record in LETTERS[:2]:
                tx.delivery.append(record)  # committed, not yet published
        with pytest.raises(Crash):
            _batch(store, 3, crash=True)
        assert [record for _, record in _outbox(store)] == LETTERS[:2]
        discard_open_outbox(store)
        with store.transaction() as tx:
            assert tx.delivery.append(LETTERS[2]) == 2  # sequence numbers given back
        assert [record for _, record in _outbox(store)] == LETTERS
