"""A refresh's events encoded from their record form (decision 0099): each record is the dict
``to_record()`` of the event built as a model gives — same values, same order, so the same
bytes —, the cause ids merged a chunk of events at a time are each event's own, and a value
the model would refuse or normalise goes through the model as before."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from stream_align.engine import event_rows
from stream_align.engine.cause_ids import CauseRows, JointIds, Vocabulary
from stream_align.engine.causes import smallest
from stream_align.engine.decisions import Change
from stream_align.engine.event_rows import EventFrame, EventRows
from stream_align.events.codec import CodecSettings, Encoding
from stream_align.events.contracts import CheckedRecord, Direction, Evidence
from stream_align.service.batch import BatchCodec
from stream_align.service.settings import KafkaSettings

PAD = np.iinfo(np.int32).max


def _rows(rng: np.random.Generator, count: int, vocab: int, limit: int) -> np.ndarray:
    ranks = np.sort(rng.choice(vocab, (count, limit)), axis=1).astype(np.int32)
    ranks[np.arange(limit)[None, :] >= rng.integers(0, limit + 1, count)[:, None]] = PAD
    for row in ranks:  # distinct ids in a row, as the causes leave them
        live = row[row != PAD]
        row[:] = PAD
        row[:len(np.unique(live))] = np.unique(live)
    return ranks


def _vocab(rng: np.random.Generator, size: int, nul: bool = False) -> Vocabulary:
    """``size`` ids held as a blob (with a NUL byte each: ranked by Python)."""
    words = sorted({("id\0" if nul else "id") + str(int(x)) + "é" * int(x % 3)
                    for x in rng.integers(0, 10 * size, 3 * size)})[:size]
    return _held(words)


def _held(words: list[str]) -> Vocabulary:
    encoded = [w.encode("utf-8") for w in words]
    return Vocabulary(bytearray(b"".join(encoded)),
                      np.cumsum([len(x) for x in encoded], dtype=np.int64), [])


def _events(count: int, limit: int = 4, nul: bool = False, seed: int = 0) -> EventRows:
    rng = np.random.default_rng(seed)
    lefts = CauseRows(_vocab(rng, 40, nul), _rows(rng, count, 40, limit),
                      rng.integers(0, 10**12, count), PAD)
    rights = CauseRows(_vocab(rng, 30, nul), _rows(rng, 2 * count, 30, limit),
                       rng.integers(0, 10**12, 2 * count), PAD)
    changes, evidence = [], []
    for i in range(count):
        kind = i % 3
        changes.append(Change(f"a:{i}", f"b:{i}", float(rng.random()), kind == 1,
                              None if kind == 0 else float(rng.random())))
        evidence.append(() if kind == 1 else (
            (f"a:n{i}", f"b:n{i}", "rel", Direction.OUTGOING, None, None, float(rng.random())),
            Evidence(left_neighbour=f"a:m{i}", right_neighbour=f"b:m{i}", relation_right="r",
                     direction_right=Direction.INCOMING, weight=0.25)))
    return EventRows(EventFrame("state", 7, 1_700_000_000_000, "v1", limit), changes,
                     evidence, (lefts, rights), [1_600_000_000_000 + i for i in range(count)])


@pytest.mark.parametrize("nul", [False, True])
def test_records_are_the_models_records_in_order(nul: bool, monkeypatch) -> None:
    monkeypatch.setattr(event_rows, "RECORDS_AT_ONCE", 7)  # several chunks, one partial
    events = _events(40, nul=nul)
    records = list(events.records())
    models = [event.to_record() for event in events]
    assert records == models
    assert [list(record) for record in records] == [list(model) for model in models]
    assert all(isinstance(record, CheckedRecord) for record in records)
    assert any(len(record["cause"]) == 4 for record in records)
    assert [events.record(i) for i in range(len(events))] == models


@pytest.mark.parametrize("encoding", [Encoding.JSON, Encoding.AVRO])
def test_records_encode_to_the_models_bytes(encoding: Encoding) -> None:
    codec = BatchCodec(KafkaSettings(), CodecSettings(encoding=encoding))
    events = _events(12)
    assert [codec.record_records(record) for record in events.records()] == [
        codec.alignment_records(event) for event in events]


def test_joint_ids_name_each_rows_smallest_ids() -> None:
    rng = np.random.default_rng(3)
    for limit in (1, 3, 8):
        lefts = CauseRows(_vocab(rng, 50), _rows(rng, 30, 50, limit), np.zeros(30), PAD)
        rights = CauseRows(_vocab(rng, 20), _rows(rng, 60, 20, limit), np.zeros(60), PAD)
        joint = JointIds.of(lefts, rights)
        assert joint is not None
        at = np.arange(30)
        found = joint.smallest([(0, at), (1, at), (1, at + 30)], limit)
        assert found == [smallest([lefts.ids(i), rights.ids(i), rights.ids(30 + i)], limit)
                         for i in range(30)]
    empty = CauseRows(_held([]), np.full((2, 2), PAD, np.int32), np.zeros(2), PAD)
    assert JointIds.of(empty, empty).smallest([(0, np.arange(2)), (1, np.arange(2))], 2) == [
        [], []]


@pytest.mark.parametrize("change", [
    Change("a:x", "b:x", np.float64(0.5), False, None),  # a float subclass: normalised
    Change("a:x", "b:x", 1, False, None),  # an int: the model makes it a float
])
def test_a_value_the_model_normalises_goes_through_the_model(change: Change) -> None:
    events = _events(1)
    events._changes = [change]
    record = events.record(0)
    assert not isinstance(record, CheckedRecord)
    assert record == events[0].to_record() and type(record["score"]) is float


@pytest.mark.parametrize("change", [
    Change("a:x", "b:x", math.nan, False, None),
    Change("", "b:x", 0.5, False, None),
    Change("a:x", "b:x", 0.5, True, None),  # a retraction of no match
])
def test_a_value_the_model_refuses_raises_as_before(change: Change) -> None:
    events = _events(1)
    events._changes = [change]
    with pytest.raises(ValidationError):
        events.record(0)
    with pytest.raises(ValidationError):
        list(events.records())
