"""A decoded TripleChange built without pydantic's validation (``events.input_records``): the
codec gives the same event, or the same ``DecodeError``, as the full path, for valid records,
records at and over every limit, and records broken in every field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream_align.events import TripleChange
from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.errors import DecodeError
from stream_align.events.input_records import triple_change
from stream_align.events.limits import InputLimits
from tests.unit.events.event_strategies import FAST, triple_changes

TIGHT = CodecSettings(limits=InputLimits(max_key_bytes=8, max_attributes=2,
                                         max_attribute_bytes=10, max_depth=4))
SETTINGS = (CodecSettings(), TIGHT)


def _full_path(settings: CodecSettings) -> Codec[TripleChange]:
    codec = Codec(TripleChange, settings)
    codec._checked = None  # the path every record took before
    return codec


def _outcome(codec: Codec[TripleChange], data: bytes) -> tuple[Any, ...]:
    """What decoding ``data`` gives: the event with its whole pydantic state, or the error."""
    try:
        event = codec.decode(data)
    except DecodeError as exc:
        return ("error", exc.reason, str(exc))
    state = (list(event.__dict__.items()), [type(v) for v in event.__dict__.values()],
             event.__pydantic_fields_set__, event.__pydantic_extra__,
             event.__pydantic_private__, event.model_dump_json())
    return ("event", type(event), state)


def _same(settings: CodecSettings, document: Any) -> None:
    """Both paths agree on ``document`` written with escapes (a lone surrogate reaches the
    model as ``\\ud800``) and as raw UTF-8 (it is then invalid UTF-8)."""
    for data in (json.dumps(document).encode(),
                 json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")):
        assert _outcome(Codec(TripleChange, settings), data) == _outcome(
            _full_path(settings), data)


def _valid() -> dict[str, Any]:
    return {"event_id": "e1", "event_time": 5, "graph": "A", "op": "ADD_TRIPLE", "head": "h",
            "relation": "r", "tail": "t", "entity_type": None, "attributes": {}}


@FAST
@given(event=triple_changes)
def test_valid_records_decode_to_the_full_paths_event(event: TripleChange) -> None:
    for settings in SETTINGS:
        _same(settings, event.to_record())
    document = json.loads(json.dumps(event.to_record()))  # as parsed: plain str symbols
    built = triple_change(document, CodecSettings().limits)
    assert built == event and list(built.__dict__) == list(event.__dict__)


BROKEN: list[tuple[str, Any]] = [
    ("event_id", ""), ("event_id", 7), ("event_id", None), ("event_id", "é" * 3),
    ("event_id", "x" * 9), ("event_id", "\ud800"), ("event_time", -1), ("event_time", True),
    ("event_time", 1.0), ("event_time", "5"), ("event_time", 253_402_300_800_000),
    ("event_time", 2**63), ("graph", ""), ("graph", ["A"]), ("head", "a\udfffb"),
    ("op", "UNKNOWN"), ("op", "RENAME"), ("op", 1), ("op", None), ("relation", None),
    ("relation", ""), ("relation", 3), ("tail", None), ("tail", "t" * 9), ("tail", "ü" * 5),
    ("entity_type", "T"), ("entity_type", ""), ("attributes", {"name": "x"}),
    ("attributes", None), ("attributes", []), ("attributes", {"a": 1}),
    ("attributes", {"a": {"b": "c"}}),
]


@pytest.mark.parametrize(("field", "value"), BROKEN)
@pytest.mark.parametrize("settings", SETTINGS, ids=["default", "tight"])
def test_broken_fields_take_the_full_path(settings: CodecSettings, field: str,
                                          value: Any) -> None:
    document = _valid() | {field: value}
    _same(settings, document)


UPSERTS: list[dict[str, Any]] = [
    {}, {"name": "x"}, {"a": "12345", "b": "67"}, {"a": "123456789"}, {"ab": "123456789"},
    {"a": "1", "b": "2", "c": "3"}, {"é": "12345678"}, {"é": "123456789"}, {"": ""},
    {"\ud800": "x"}, {"x": "\udc00"}, {"name": "東京"},
]


@pytest.mark.parametrize("attributes", UPSERTS)
@pytest.mark.parametrize("entity_type", [None, "T", "", "TTTTTTTTT"])
@pytest.mark.parametrize("settings", SETTINGS, ids=["default", "tight"])
def test_upserts_at_and_over_the_limits(settings: CodecSettings, entity_type: str | None,
                                        attributes: dict[str, str]) -> None:
    document = _valid() | {"op": "UPSERT_ENTITY", "relation": None, "tail": None,
                           "entity_type": entity_type, "attributes": attributes}
    _same(settings, document)


@pytest.mark.parametrize("op", ["ADD_TRIPLE", "REMOVE_TRIPLE", "UPSERT_ENTITY", "DELETE_ENTITY"])
@pytest.mark.parametrize("relation", [None, "r"])
@pytest.mark.parametrize("entity_type", [None, "T"])
@pytest.mark.parametrize("attributes", [{}, {"k": "v"}])
def test_the_op_rule(op: str, relation: str | None, entity_type: str | None,
                     attributes: dict[str, str]) -> None:
    for tail in (None, "t"):
        document = _valid() | {"op": op, "relation": relation, "tail": tail,
                               "entity_type": entity_type, "attributes": attributes}
        _same(CodecSettings(), document)


@pytest.mark.parametrize("change", [lambda d: d.pop("attributes"), lambda d: d.pop("event_id"),
                                    lambda d: d.update(extra=1), lambda d: d.pop("relation")])
def test_missing_and_unknown_fields_take_the_full_path(change: Any) -> None:
    document = _valid()
    change(document)
    assert triple_change(document, CodecSettings().limits) is None
    _same(CodecSettings(), document)


@FAST
@given(event=triple_changes, field=st.sampled_from(list(TripleChange.model_fields)),
       value=st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10),
                       st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=3),
                       st.lists(st.text(max_size=2), max_size=2)))
def test_any_field_replaced(event: TripleChange, field: str, value: Any) -> None:
    document = event.to_record() | {field: value}
    for settings in SETTINGS:
        _same(settings, document)
