"""A refresh's events as rows: each read builds the same event, in the decider's order, and the
rows hold no cause id the events do not name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, synthetic_pair, untrained_bundle

from stream_align.engine.cause_ids import CauseRows
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.event_rows import EventRows, as_evidence
from stream_align.events.contracts import Direction, Evidence, TripleChange

torch.set_num_threads(1)

T = TripleChange


def _refreshed() -> EventRows:
    bundle = untrained_bundle(synthetic_pair())
    changes = []
    for graph, prefix in (("A", "a"), ("B", "b")):
        for name in ("xavier stone", "yolanda brook", "zachary field"):
            changes.append(T.upsert_entity(graph, f"{prefix}:{name[0]}", attributes={"name": name}))
        changes.append(T.add_triple(graph, f"{prefix}:x", "http://x/rel0", f"{prefix}:y"))
        changes.append(T.add_triple(graph, f"{prefix}:y", "http://x/rel1", f"{prefix}:z"))
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


@pytest.mark.parametrize("vocab", [np.array([b"a", b"b", b"c", b"d"]), ["a", "b", "c", "d"]])
def test_cause_rows_keep_only_the_ids_they_name(vocab: np.ndarray | list[str]) -> None:
    pad = np.iinfo(np.int32).max
    ranks = np.array([[1, 3, pad], [pad, pad, pad], [3, pad, pad]], dtype=np.int32)
    latest = np.array([5, np.iinfo(np.int64).min, -2], dtype=np.int64)
    rows = CauseRows(vocab, ranks, latest, pad)
    assert rows.found() == [(["b", "d"], 5), ([], None), (["d"], -2)]
    assert len(rows._vocab) == 2
