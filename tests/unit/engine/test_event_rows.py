"""A refresh's events as rows: each read builds the same event, in the decider's order, and the
rows hold no cause id the events do not name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings
from test_engine_inputs import _tiny

from stream_align.engine import events as events_module
from stream_align.engine.cause_ids import CauseRows, Vocabulary
from stream_align.engine.delta import StateDelta
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.event_rows import EventRows, as_evidence
from stream_align.engine.events import build_events
from stream_align.engine.string_table import StringColumn
from stream_align.events.contracts import Direction, Evidence
from stream_align.model.evidence import NeighbourPair

torch.set_num_threads(1)


def _refreshed() -> EventRows:
    bundle, changes = _tiny()
    events = AlignmentEngine.empty(bundle, engine_settings()).process(changes, []).events
    assert isinstance(events, EventRows)
    return events


def test_each_read_builds_the_same_event_in_order() -> None:
    events = _refreshed()
    listed = list(events)
    assert len(listed) == len(events) == 3
    assert [events[i] for i in range(len(events))] == listed == events[:]
    assert events[-1] == listed[-1] and events[1:] == listed[1:]
    assert [e.event_id for e in listed] == [e.event_id for e in events]  # ids fixed, not random
    assert all(e.cause and e.evidence for e in listed)
    with pytest.raises(IndexError):
        events[3]
    events.clear()
    assert len(events) == 0 and list(events) == []


def test_evidence_rows_become_the_evidence_built_before() -> None:
    row = ("a:n", "b:n", "rel0", Direction.INCOMING, None, None, 0.5)
    built = Evidence(left_neighbour="a:n", right_neighbour="b:n", relation_left="rel0",
                     direction_left=Direction.INCOMING, weight=0.5)
    assert as_evidence(row) == built and as_evidence(built) is built


@pytest.mark.parametrize("last", ["d", "d\0"])
def test_cause_rows_keep_only_the_ids_they_name(last: str) -> None:
    """Ranked as fixed-width bytes, or by Python where an id holds a NUL byte."""
    ids = ["c", "a", last, "b"]
    blob = bytearray("".join(ids).encode())
    vocab = Vocabulary(blob, np.cumsum([len(x) for x in ids]), [])
    assert vocab.rank.tolist() == [2, 0, 3, 1]
    pad = np.iinfo(np.int32).max
    ranks = np.array([[1, 3, pad], [pad, pad, pad], [3, pad, pad]], dtype=np.int32)
    latest = np.array([5, np.iinfo(np.int64).min, -2], dtype=np.int64)
    rows = CauseRows(vocab, ranks, latest, pad)
    assert rows.found() == [(["b", last], 5), ([], None), ([last], -2)]
    assert len(rows._vocab) == 2


def test_a_call_without_decisions_reads_no_causes_and_allocates_no_id() -> None:
    """No decision moved: no events, and neither the causes nor the event ids are read (a
    call of one insert usually moves none: its closures and evidence were all waste)."""
    bundle, changes = _tiny()
    engine = AlignmentEngine.empty(bundle, engine_settings())
    engine.process(changes, [])
    first = engine.event_ids.next

    class Unread:
        def first(self, limit: int) -> None:
            raise AssertionError("causes read for no event")

    delta = StateDelta()
    events = build_events(engine, delta, [], Unread())  # type: ignore[arg-type]
    assert len(events) == 0 and list(events) == [] and list(events.records()) == []
    assert engine.event_ids.next == first and delta.next_event_seq is None


def test_evidence_found_a_slice_of_matches_at_a_time_is_the_same(monkeypatch) -> None:
    """Decision 0133: a refresh's evidence is found ``EVIDENCE_PAIRS`` matches at a time;
    in slices of one match the events are those of one pass over every match."""
    def evidence(slice_pairs: int) -> list[tuple]:
        monkeypatch.setattr(events_module, "EVIDENCE_PAIRS", slice_pairs)
        return [(e.left, e.right, e.evidence) for e in _refreshed()]

    sliced, whole = evidence(1), evidence(events_module.EVIDENCE_PAIRS)
    assert len(whole) == 3 and all(found for *_, found in whole)
    assert sliced == whole


def test_evidence_rows_read_their_keys_at_once_as_entry_by_entry() -> None:
    """Decision 0139: each side's neighbour keys are read in one ``take``; the rows equal
    those read an entry at a time, in each pair's order, empty pairs kept in place."""
    keys_a, keys_b = StringColumn(), StringColumn()
    keys_a.extend([f"a:{i}" for i in range(5)])
    keys_b.extend([f"b:{i}" for i in range(4)])
    found = [[NeighbourPair(3, 1, "r", "~s", 0.5), NeighbourPair(0, 2, "~r", "s", 0.25)], [],
             [NeighbourPair(4, 0, "r", "unknown relation", 1.0)]]
    one_by_one = [tuple((keys_a[e.left], keys_b[e.right], *events_module._relation(
        e.relation_left), *events_module._relation(e.relation_right), e.weight) for e in row)
        for row in found]
    rows = events_module._rows(keys_a, keys_b, found)
    assert rows == one_by_one
    assert rows[0][0][:2] == ("a:3", "b:1") and rows[1] == () and rows[2][0][1] == "b:0"
