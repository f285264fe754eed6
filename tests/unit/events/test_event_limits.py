"""Input limits and unknown enum symbols: checked once, at decode, each with its own reason.

An event decode accepts must fit the store (its key components and entity values), so these
tests also write what decode accepted at the limits into a real RocksDB store.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import fastavro
import pytest
from event_strategies import FakeRegistry

from stream_align.events import (
    AlignmentEvent,
    Codec,
    CodecSettings,
    DecodeError,
    Encoding,
    Evidence,
    Label,
    Reason,
    TripleChange,
)
from stream_align.events.avro_schemas import schema_text
from stream_align.events.limits import KEY_COMPONENT_BYTES, InputLimits
from stream_align.store import StateStore, StoreSettings
from stream_align.store.keys import MAX_COMPONENT_BYTES

LIMITS = InputLimits(max_key_bytes=64, max_attributes=3, max_attribute_bytes=40, max_depth=6)
JSON = CodecSettings(limits=LIMITS)
AVRO = CodecSettings(encoding=Encoding.AVRO, limits=LIMITS)
UPSERT = {"event_id": "e", "event_time": 1, "graph": "A", "op": "UPSERT_ENTITY", "head": "h"}


def _reason(codec: Codec, data: bytes) -> Reason:
    with pytest.raises(DecodeError) as caught:
        codec.decode(data)
    return caught.value.reason


def _json(**fields: object) -> bytes:
    return json.dumps({**UPSERT, **fields}).encode()


def _avro(**fields: object) -> bytes:
    """An Avro TripleChange written without the model's checks (as a foreign producer would)."""
    record = {"relation": None, "tail": None, "entity_type": None, "attributes": {},
              **UPSERT, **fields}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(json.loads(
        schema_text(TripleChange.avro_name))), record)
    return b"\x00" + (1).to_bytes(4, "big") + body.getvalue()


@pytest.mark.parametrize("encode", [_json, _avro], ids=["json", "avro"])
@pytest.mark.parametrize(("fields", "reason"), [
    ({"head": "x" * 65}, Reason.OVERSIZED_KEY),
    ({"head": "\u00e9" * 33}, Reason.OVERSIZED_KEY),  # 66 UTF-8 bytes in 33 characters
    ({"event_id": "i" * 65}, Reason.OVERSIZED_KEY),
    ({"graph": "g" * 65}, Reason.OVERSIZED_KEY),
    ({"entity_type": "t" * 65}, Reason.OVERSIZED_KEY),
    ({"op": "ADD_TRIPLE", "relation": "r" * 65, "tail": "t"}, Reason.OVERSIZED_KEY),
    ({"op": "ADD_TRIPLE", "relation": "r", "tail": "t" * 70_000}, Reason.OVERSIZED_KEY),
    ({"attributes": {"a": "1", "b": "2", "c": "3", "d": "4"}}, Reason.OVERSIZED_ENTITY),
    ({"attributes": {"name": "v" * 37}}, Reason.OVERSIZED_ENTITY),
])
def test_limits_are_dead_letter_reasons(encode, fields: dict[str, object],
                                        reason: Reason) -> None:
    settings = AVRO if encode is _avro else JSON
    assert _reason(Codec(TripleChange, settings), encode(**fields)) is reason


def test_labels_are_bounded_too() -> None:
    label = {"event_id": "e", "event_time": 1, "left": "a", "right": "b", "label": "MATCH",
             "source": "s" * 65}
    assert _reason(Codec(Label, JSON), json.dumps(label).encode()) is Reason.OVERSIZED_KEY


def test_at_the_limits_decodes_and_the_store_takes_it(tmp_path: Path) -> None:
    codec = Codec(TripleChange, CodecSettings(limits=InputLimits(
        max_key_bytes=MAX_COMPONENT_BYTES, max_attribute_bytes=1 << 20)))
    key = "\u20ac" * (MAX_COMPONENT_BYTES // 3)  # 65535 bytes exactly
    upsert = codec.decode(_json(head=key, attributes={"name": "n" * 500_000}))
    add = codec.decode(_json(op="ADD_TRIPLE", head=key, relation=key, tail=key))
    store = StateStore(StoreSettings(path=tmp_path / "state"))
    try:
        with store.transaction() as tx:
            tx.graph.upsert_entity("A", upsert.head, "", upsert.attributes)
            tx.graph.add_triple("A", add.head, add.relation or "", add.tail or "")
        with store.transaction() as tx:
            assert tx.graph.has_triple("A", key, key, key)
    finally:
        store.close()
    assert _reason(codec, _json(head=key + "x")) is Reason.OVERSIZED_KEY


def test_the_key_limit_cannot_exceed_what_the_store_accepts() -> None:
    assert KEY_COMPONENT_BYTES == MAX_COMPONENT_BYTES
    with pytest.raises(ValueError):
        InputLimits(max_key_bytes=MAX_COMPONENT_BYTES + 1)


def test_limits_guard_input_not_models_built_in_code() -> None:
    event = TripleChange.upsert_entity("A", "x" * 100, attributes={"name": "v" * 100})
    assert Codec(TripleChange, JSON).encode(event)  # the service's own events are not refused


def test_lone_surrogates_are_invalid_utf8() -> None:
    codec = Codec(TripleChange, JSON)
    assert _reason(codec, b'{"event_id": "e", "event_time": 1, "graph": "A", '
                          b'"op": "UPSERT_ENTITY", "head": "\\ud800"}') is Reason.INVALID_UTF8
    assert _reason(codec, _json(attributes={"name": "\ud800"})) is Reason.INVALID_UTF8
    emoji = codec.decode(b'{"event_id": "e", "event_time": 1, "graph": "A", '
                         b'"op": "UPSERT_ENTITY", "head": "\\ud83d\\ude00"}')
    assert emoji.head == "\U0001f600"  # an escaped surrogate *pair* is fine


def test_nesting_deeper_than_max_depth_is_too_deep() -> None:
    codec = Codec(TripleChange, JSON)
    # the document is depth 1; an ignored unknown field may nest up to max_depth (6) in all
    assert codec.decode(_json(extra=[[[[[1]]]]])).head == "h"
    assert _reason(codec, _json(extra=[[[[[[1]]]]]])) is Reason.TOO_DEEP
    assert _reason(codec, _json(extra={"a": {"b": {"c": {"d": {"e": {}}}}}})) is Reason.TOO_DEEP
    # a known field too deep for its type is not of the schema's shape: the depth walk runs
    assert _reason(codec, _json(attributes={"name": [[[[[[1]]]]]]})) is Reason.TOO_DEEP
    deep = b'{"x": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    assert _reason(Codec(TripleChange, CodecSettings(max_bytes=1 << 20)), deep) is (
        Reason.TOO_DEEP)


@pytest.mark.parametrize("contract", [TripleChange, Label])
def test_unknown_symbols_in_json_are_unknown_symbol(contract: type) -> None:
    document = ({**UPSERT, "op": "MERGE_ENTITIES"} if contract is TripleChange else
                {"event_id": "e", "event_time": 1, "left": "a", "right": "b",
                 "label": "PROBABLY", "source": "s"})
    assert _reason(Codec(contract), json.dumps(document).encode()) is Reason.UNKNOWN_SYMBOL
    assert _reason(Codec(contract), json.dumps({**document, "source": 5}).encode()) in (
        Reason.SCHEMA_VIOLATION, Reason.UNKNOWN_SYMBOL)


def test_a_newer_writers_symbol_reads_as_unknown_through_the_registry() -> None:
    """A producer on a newer schema (one more op) is read through Avro schema resolution."""
    newer = json.loads(schema_text(TripleChange.avro_name))
    op = next(f for f in newer["fields"] if f["name"] == "op")
    op["type"]["symbols"].insert(-1, "MERGE_ENTITIES")
    registry = FakeRegistry()
    newer_id = registry.add(json.dumps(newer))
    record = {**UPSERT, "op": "MERGE_ENTITIES", "relation": None, "tail": None,
              "entity_type": None, "attributes": {}}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(newer), record)
    codec = Codec(TripleChange, CodecSettings(encoding=Encoding.AVRO,
                                              schema_registry_url="http://unused"),
                  registry=registry)
    data = b"\x00" + newer_id.to_bytes(4, "big") + body.getvalue()
    assert _reason(codec, data) is Reason.UNKNOWN_SYMBOL


def test_an_unknown_evidence_direction_reads_as_unrecorded() -> None:
    event = AlignmentEvent.new(left="l", right="r", decision="MATCH", score=0.9,
                               model_version="m", evidence=(Evidence(
                                   left_neighbour="a", right_neighbour="b", relation_left="r",
                                   relation_right="r", weight=0.5, direction_left="OUTGOING",
                                   direction_right="INCOMING"),))
    document = json.loads(Codec(AlignmentEvent).encode(event))
    assert document["evidence"][0]["direction_left"] == "OUTGOING"
    document["evidence"][0]["direction_left"] = "SIDEWAYS"
    decoded = Codec(AlignmentEvent).decode(json.dumps(document).encode())
    assert decoded.evidence[0].direction_left is None
    assert decoded.evidence[0].direction_right == "INCOMING"
    document["decision"] = "ESCALATE"
    assert _reason(Codec(AlignmentEvent), json.dumps(document).encode()) is (
        Reason.UNKNOWN_SYMBOL)
