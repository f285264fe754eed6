"""The quick schema check passes only records fastavro's strict validate passes, and passes the
records the codec writes (so most decodes skip ``validate``)."""

from __future__ import annotations

from typing import Any

from fastavro.validation import validate
from hypothesis import given
from hypothesis import strategies as st

from stream_align.events.avro_schemas import parsed_schema
from stream_align.events.contracts import Label, TripleChange
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
