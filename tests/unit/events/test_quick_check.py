"""The quick schema check passes only records fastavro's strict validate passes, and passes the
records the codec writes (so most decodes skip ``validate``)."""

from __future__ import annotations

from typing import Any

from fastavro.validation import validate
from hypothesis import given
from hypothesis import strategies as st

from stream_align.events.avro_schemas import parsed_schema
from stream_align.events.contracts import (
    AlignmentEvent,
    Decision,
    Direction,
    Evidence,
    Label,
    TripleChange,
)
from stream_align.events.quick_check import quick_check

SCHEMA = parsed_schema(TripleChange.avro_name)
CHECK = quick_check(SCHEMA)


class _Str(str):
    pass


_values = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=False), st.text(max_size=5),
                    st.builds(_Str, st.text(max_size=3)),
                    st.sampled_from(["ADD_TRIPLE", "UPSERT_ENTITY", "UNKNOWN", "NOPE"]),
                    st.dictionaries(st.one_of(st.text(max_size=3), st.integers()),
                                    st.one_of(st.text(max_size=3), st.none(), st.integers()),
                                    max_size=3),
                    st.lists(st.text(max_size=2), max_size=2))


@given(st.fixed_dictionaries({f["name"]: _values for f in SCHEMA["fields"]}))
def test_quick_check_passes_only_what_validate_passes(record: dict[str, Any]) -> None:
    assert CHECK is not None
    if CHECK(record):
        assert validate(record, SCHEMA, raise_errors=False, strict=True)


def test_quick_check_passes_written_records() -> None:
    change = TripleChange.upsert_entity("A", "e1", entity_type="film",
                                        attributes={"name": "x"}).to_record()
    change["op"] = str(change["op"])  # as JSON decodes it
    assert CHECK is not None and CHECK(change)
    assert not CHECK({**change, "event_time": True})  # bool is not a long here
    assert not CHECK({k: v for k, v in change.items() if k != "head"})
    assert quick_check(parsed_schema(Label.avro_name)) is not None


EVENT = parsed_schema(AlignmentEvent.avro_name)
EVENT_CHECK = quick_check(EVENT)
_evidence = st.fixed_dictionaries(
    {f["name"]: st.one_of(_values, st.sampled_from(["OUTGOING", "INCOMING"]))
     for f in EVENT["fields"][9]["type"]["items"]["fields"]})
_event_values = st.one_of(_values, st.lists(_evidence, max_size=2).map(tuple),
                          st.lists(st.one_of(_evidence, _values), max_size=2),
                          st.tuples(st.sampled_from(["string", "double"]), _values),
                          st.sampled_from(["MATCH", "RETRACT"]))


@given(st.fixed_dictionaries({f["name"]: _event_values for f in EVENT["fields"]}))
def test_nested_quick_check_passes_only_what_validate_passes(record: dict[str, Any]) -> None:
    assert EVENT_CHECK is not None
    if EVENT_CHECK(record):
        assert validate(record, EVENT, raise_errors=False, strict=True)


def test_nested_quick_check_passes_the_events_the_service_writes() -> None:
    event = AlignmentEvent.new(
        id_from=("s", 1), event_time=5, left="a", right="b", decision=Decision.RETRACT,
        score=0.5, previous_decision=Decision.MATCH, previous_score=1, model_version="m",
        evidence=(Evidence(left_neighbour="x", right_neighbour="y", relation_left="r",
                           direction_left=Direction.OUTGOING, weight=0.25),),
        cause=("c1", "c2"), decided_at=7)
    record = event.to_record()
    assert EVENT_CHECK is not None and EVENT_CHECK(record)
    assert not EVENT_CHECK({**record, "score": "0.5"})
    assert not EVENT_CHECK({**record, "evidence": [{"left_neighbour": "x"}]})
    assert not EVENT_CHECK({**record, "cause": ["c", 1]})
