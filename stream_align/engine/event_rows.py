"""A refresh's alignment events as rows, each ``AlignmentEvent`` built when it is read.

An ``AlignmentEvent`` with its evidence (``Evidence`` models, ≈ 1.25 KB each) and up to
``max_cause_ids`` cause ids is ≈ 8 KB of small Python objects, and building a refresh's events
named every entity's causes first (three rows of up to ``max_cause_ids`` ``str`` objects an
event). A bulk refresh's tens of thousands of events were held that way from the events stage
until the service had staged them: the largest transient of the refresh after its pair scores
(decisions 0081, 0086). Here an event is its decision change, its time, its evidence as plain
tuples and its causes as rows of ranks (``cause_ids.CauseRows``); reading event ``i`` builds
the same ``AlignmentEvent`` the engine built before (same fields, same id), so the service
stages them one at a time and each is freed once its outbox records are staged. The service
reads ``records()`` instead: each event's record form (the dict its ``to_record()`` gives)
built without the models, its cause ids named a chunk of events at a time: staging the zh_en
backlog's 17,601 events took 2.25 s of CPU through the models (validated again by the encode
and dumped twice) and 1.01 s from the rows (decision 0099).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np

from stream_align.engine.cause_ids import CauseRows, JointIds
from stream_align.engine.causes import smallest
from stream_align.engine.decisions import Change
from stream_align.events.contracts import (
    AlignmentEvent,
    Decision,
    Direction,
    Evidence,
    EvidenceFields,
    alignment_record,
    new_event_id,
)

EvidenceRow = tuple[str, str, str | None, Direction | None, str | None, Direction | None,
                    float]
"""An evidence entry's fields in ``Evidence``'s order of the engine's reads: left and right
neighbour keys, each relation's plain name and direction, the weight."""


def as_evidence(row: EvidenceRow | Evidence) -> Evidence:
    """The ``Evidence`` of a row (an ``Evidence`` already built is returned as it is)."""
    if isinstance(row, Evidence):
        return row
    left, right, relation_left, direction_left, relation_right, direction_right, weight = row
    return Evidence(left_neighbour=left, right_neighbour=right, relation_left=relation_left,
                    relation_right=relation_right, direction_left=direction_left,
                    direction_right=direction_right, weight=weight)


RECORDS_AT_ONCE = 1024
"""Events whose cause ids ``EventRows.records`` names at once (a bounded transient: ≤ 3 ×
``max_cause_ids`` ids an event)."""


@dataclass(frozen=True)
class EventFrame:
    """What a refresh's events share: the state's identity, the first event number, the
    decision time and the model version."""

    identity: str
    first_seq: int
    decided_at: int
    model_version: str
    max_cause_ids: int


class EventRows(Sequence[AlignmentEvent]):
    """One event per decision change, in the decider's order; ``causes``: the left entity's
    rows (graph A) and the right entity's then the left's new partner's (graph B, ``2n``
    rows; ``None`` without changes); ``times``: each event's ``event_time``."""

    def __init__(self, frame: EventFrame, changes: list[Change],
                 evidence: list[tuple[EvidenceRow | Evidence, ...]],
                 causes: tuple[CauseRows, CauseRows] | None, times: list[int]) -> None:
        self._frame, self._changes, self._evidence = frame, changes, evidence
        self._causes: tuple[CauseRows, CauseRows] | None = causes
        self._times = times

    def __len__(self) -> int:
        return len(self._changes)

    @overload
    def __getitem__(self, at: int) -> AlignmentEvent: ...

    @overload
    def __getitem__(self, at: slice) -> list[AlignmentEvent]: ...

    def __getitem__(self, at: int | slice) -> AlignmentEvent | list[AlignmentEvent]:
        if isinstance(at, slice):
            return [self._event(i) for i in range(len(self))[at]]
        if not -len(self) <= at < len(self):
            raise IndexError("event index out of range")
        return self._event(at % len(self))

    def __iter__(self) -> Iterator[AlignmentEvent]:
        return (self._event(i) for i in range(len(self)))

    def clear(self) -> None:
        """Drop every row (the service has staged them)."""
        self._changes, self._evidence, self._times, self._causes = [], [], [], None

    def records(self) -> Iterator[dict[str, Any]]:
        """Each event's record form, in order: ``self[i].to_record()``, the same dict, built
        without the models where ``alignment_record`` can (what the service encodes:
        building, validating and dumping the models was most of a bulk refresh's per-event
        cost, decision 0099)."""
        if not len(self):
            return
        assert self._causes is not None  # (rows are read only while there are any)
        lefts, rights = self._causes
        joint = JointIds.of(lefts, rights)
        for lo in range(0, len(self), RECORDS_AT_ONCE):
            at = np.arange(lo, min(lo + RECORDS_AT_ONCE, len(self)))
            causes = None if joint is None else joint.smallest(
                [(0, at), (1, at), (1, at + len(lefts))], self._frame.max_cause_ids)
            for i, event in enumerate(at.tolist()):
                yield self.record(event, None if causes is None else causes[i])

    def record(self, at: int, causes: list[str] | None = None) -> dict[str, Any]:
        """Event ``at``'s record form (``self[at].to_record()``); ``causes``: its cause ids if
        known."""
        frame, change = self._frame, self._changes[at]
        record = alignment_record(
            new_event_id(AlignmentEvent.__name__, frame.identity, frame.first_seq + at),
            self._times[at], change.left, change.right, change.retract, change.score,
            change.previous_score, frame.model_version,
            [_fields(row) for row in self._evidence[at]],
            self._cause_ids(at) if causes is None else causes, frame.decided_at)
        return self._event(at).to_record() if record is None else record

    def _cause_ids(self, at: int) -> list[str]:
        assert self._causes is not None  # (rows are read only while there are any)
        lefts, rights = self._causes
        ids = (lefts.ids(at), rights.ids(at), rights.ids(len(lefts) + at))
        return smallest(ids, self._frame.max_cause_ids)

    def _event(self, at: int) -> AlignmentEvent:
        frame, change = self._frame, self._changes[at]
        return AlignmentEvent.new(
            id_from=(frame.identity, frame.first_seq + at), event_time=self._times[at],
            left=change.left, right=change.right,
            decision=Decision.RETRACT if change.retract else Decision.MATCH,
            score=change.score,
            previous_decision=None if change.previous_score is None else Decision.MATCH,
            previous_score=change.previous_score, model_version=frame.model_version,
            evidence=tuple(map(as_evidence, self._evidence[at])),
            cause=tuple(self._cause_ids(at)), decided_at=frame.decided_at)


def _fields(row: EvidenceRow | Evidence) -> EvidenceFields:
    """An evidence entry's values in ``Evidence``'s field order."""
    if isinstance(row, Evidence):
        return (row.left_neighbour, row.right_neighbour, row.relation_left, row.relation_right,
                row.weight, row.direction_left, row.direction_right)
    left, right, relation_left, direction_left, relation_right, direction_right, weight = row
    return left, right, relation_left, relation_right, weight, direction_left, direction_right
