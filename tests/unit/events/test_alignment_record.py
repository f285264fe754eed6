"""``alignment_record``: the record ``AlignmentEvent(...).to_record()`` gives, or ``None`` for
any value the model would refuse or normalise (then the caller builds the model); a
``CheckedRecord`` encodes without the schema check, any other record is still checked."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from stream_align.events.avro_schemas import parsed_schema
from stream_align.events.codec import Codec
from stream_align.events.contracts import (
    AlignmentEvent,
    CheckedRecord,
    Decision,
    Direction,
    Evidence,
    alignment_record,
)
from stream_align.events.errors import EncodeError
from stream_align.events.quick_check import quick_check

EVIDENCE = ("a:n", "b:n", "rel", None, 0.5, Direction.OUTGOING, None)
GOOD: dict[str, Any] = dict(
    event_id="e1", event_time=5, left="a:x", right="b:x", retract=False, score=0.75,
    previous_score=0.5, model_version="v", evidence=[EVIDENCE], cause=["c1", "c2"],
    decided_at=9)


def _model(**values: Any) -> AlignmentEvent:
    retract, previous = values["retract"], values["previous_score"]
    return AlignmentEvent(
        event_id=values["event_id"], event_time=values["event_time"], left=values["left"],
        right=values["right"], decision=Decision.RETRACT if retract else Decision.MATCH,
        score=values["score"], previous_decision=None if previous is None else Decision.MATCH,
        previous_score=previous, model_version=values["model_version"],
        evidence=tuple(Evidence(**dict(zip(Evidence.model_fields, row, strict=True)))
                       for row in values["evidence"]),
        cause=tuple(values["cause"]), decided_at=values["decided_at"])


@pytest.mark.parametrize("change", [{}, {"previous_score": None}, {"retract": True},
                                    {"evidence": []}, {"cause": []}])
def test_a_valid_record_is_the_models(change: dict[str, Any]) -> None:
    values = {**GOOD, **change}
    record = alignment_record(**values)
    model = _model(**values).to_record()
    assert isinstance(record, CheckedRecord)
    assert record == model and list(record) == list(model)
    assert quick_check(parsed_schema(AlignmentEvent.avro_name))(dict(record))
    codec = Codec(AlignmentEvent)
    assert codec.encode_record(record) == codec.encode(_model(**values))


@pytest.mark.parametrize("change", [
    {"event_id": ""}, {"left": ""}, {"right": 1}, {"model_version": ""},
    {"event_time": -1}, {"decided_at": 2**60}, {"event_time": True},
    {"score": math.inf}, {"score": 1}, {"score": np.float64(0.5)},
    {"previous_score": math.nan}, {"retract": True, "previous_score": None},
    {"cause": ["c1", ""]}, {"cause": ["c1", 2]},
    {"evidence": [("", "b:n", None, None, 0.5, None, None)]},
    {"evidence": [("a:n", "b:n", "", None, 0.5, None, None)]},
    {"evidence": [("a:n", "b:n", None, None, 1, None, None)]},
    {"evidence": [("a:n", "b:n", None, None, 0.5, "OUTGOING", None)]},
    {"evidence": [("a:n", "b:n", None, None, 0.5)]},
])
def test_a_value_the_model_refuses_or_normalises_gives_none(change: dict[str, Any]) -> None:
    assert alignment_record(**{**GOOD, **change}) is None


def test_a_plain_record_is_still_checked_against_the_schema() -> None:
    record = dict(_model(**GOOD).to_record())
    record["event_time"] = "late"
    with pytest.raises(EncodeError):
        Codec(AlignmentEvent).encode_record(record)
