"""The codec: round trips in both encodings, one test per reason code, the size limit, and the
rule that decode and encode raise nothing but their own error."""

from __future__ import annotations

import base64
import io
import json
import pickle
import sys
import types

import fastavro
import pytest
from event_strategies import EVENTS, FAST, FakeRegistry, FakeSchema
from hypothesis import given
from hypothesis import strategies as st

from stream_align.events import (
    CONTRACTS,
    AlignmentEvent,
    Codec,
    CodecSettings,
    DeadLetter,
    DecodeError,
    EncodeError,
    Encoding,
    Event,
    Label,
    Reason,
    TripleChange,
    TripleOp,
)
from stream_align.events import codec as codec_module
from stream_align.events.avro_schemas import schema_text

JSON = CodecSettings()
AVRO = CodecSettings(encoding=Encoding.AVRO)
LABEL = Label.new(left="a", right="b", label="MATCH", source="seed", event_time=1)


def _zigzag(n: int) -> bytes:
    """Avro's variable-length zig-zag encoding of a long."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    return bytes([*out, n])


def _string(raw: bytes) -> bytes:
    return _zigzag(len(raw)) + raw


def _label_body(*, left: bytes = b"a", label_index: int = 0) -> bytes:
    """A hand-made Avro Label body, to corrupt one field at a time."""
    return (_string(b"e1") + _zigzag(1) + _string(left) + _string(b"b")
            + _zigzag(label_index) + _string(b"seed"))


def _avro_label(body: bytes, schema_id: int = 3) -> bytes:
    return b"\x00" + schema_id.to_bytes(4, "big") + body


def _reason(codec: Codec, data: object) -> Reason:
    with pytest.raises(DecodeError) as caught:
        codec.decode(data)  # type: ignore[arg-type]
    return caught.value.reason


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [JSON, AVRO], ids=["json", "avro"])
@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__)
@FAST
@given(data=st.data())
def test_every_contract_round_trips(
    contract: type[Event], settings: CodecSettings, data: st.DataObject
) -> None:
    codec = Codec(contract, settings)
    event = data.draw(EVENTS[contract])
    assert codec.decode(codec.encode(event)) == event


def test_json_is_readable_and_carries_bytes_as_base64() -> None:
    letter = DeadLetter.new(original=b'{"x":\xff}', error_class="invalid_utf8", error_message="m",
                            topic="kg.triples", partition=2, offset=40, event_time=7)
    document = json.loads(Codec(DeadLetter).encode(letter))
    assert base64.b64decode(document["original"], validate=True) == b'{"x":\xff}'
    assert document["partition"] == 2 and document["event_time"] == 7


def test_a_dead_letter_of_half_max_bytes_of_any_bytes_fits() -> None:
    """The intake keeps max_bytes // 2 of an oversized input; base64 makes that always fit."""
    worst = bytes(range(256)) * (JSON.max_bytes // 2 // 256)
    letter = DeadLetter.new(original=worst, error_class="oversized", error_message="m" * 500,
                            topic="kg.triples", partition=0, offset=0)
    for settings in (JSON, AVRO):
        assert Codec(DeadLetter, settings).decode(Codec(DeadLetter, settings).encode(letter)) == (
            letter)


def test_json_reader_fills_defaults_and_ignores_unknown_fields() -> None:
    document = {"event_id": "e", "event_time": 1, "graph": "A", "op": "DELETE_ENTITY",
                "head": "h", "added_in_v2": True}
    decoded = Codec(TripleChange).decode(json.dumps(document).encode())
    assert decoded == TripleChange.delete_entity("A", "h", event_time=1).model_copy(
        update={"event_id": "e"})


def test_avro_wire_format_header() -> None:
    data = Codec(Label, AVRO).encode(LABEL)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == 3


# --- one test per decode reason ------------------------------------------------------------------


def test_oversized_on_decode_and_encode() -> None:
    for settings in (JSON, AVRO):
        big = LABEL.model_copy(update={"source": "s" * 200})
        data = Codec(Label, settings).encode(big)
        small = Codec(Label, settings.model_copy(update={"max_bytes": len(data) - 1}))
        assert _reason(small, data) is Reason.OVERSIZED
        assert _reason(small, data + b"x" * 10_000) is Reason.OVERSIZED
        with pytest.raises(EncodeError) as caught:
            small.encode(big)
        assert caught.value.reason is Reason.OVERSIZED


@pytest.mark.parametrize("settings", [JSON, AVRO], ids=["json", "avro"])
@pytest.mark.parametrize("data", [None, "text", 12, [0]])
def test_not_bytes(settings: CodecSettings, data: object) -> None:
    assert _reason(Codec(Label, settings), data) is Reason.NOT_BYTES


def test_invalid_utf8() -> None:
    assert _reason(Codec(Label), b'{"left": "\xff"}') is Reason.INVALID_UTF8
    assert _reason(Codec(Label, AVRO), _avro_label(_label_body(left=b"\xff"))) is (
        Reason.INVALID_UTF8)


@pytest.mark.parametrize("data", [b"", b"{", b'{"a": NaN}', b"Infinity", b"\xef\xbb\xbf{}"])
def test_invalid_json(data: bytes) -> None:
    assert _reason(Codec(Label), data) is Reason.INVALID_JSON


@pytest.mark.parametrize("data", [b"[]", b"1", b'"x"', b"null", b"true"])
def test_wrong_type(data: bytes) -> None:
    assert _reason(Codec(Label), data) is Reason.WRONG_TYPE


@pytest.mark.parametrize("change", [
    {"left": None},
    {"left": 5},
    {"label": 0},
    {"event_time": 1.5},
    {"event_time": 2**64},
])
def test_schema_violation(change: dict[str, object]) -> None:
    document = {**json.loads(Codec(Label).encode(LABEL)), **change}
    assert _reason(Codec(Label), json.dumps(document).encode()) is Reason.SCHEMA_VIOLATION


def test_schema_violation_names_missing_fields_and_bad_bytes() -> None:
    with pytest.raises(DecodeError, match="missing fields: right, label"):
        Codec(Label).decode(b'{"event_id": "e", "event_time": 1, "left": "a", "source": "s"}')
    letter = json.loads(Codec(DeadLetter).encode(DeadLetter.new(
        original=b"", error_class="x", error_message="", topic="t", partition=0, offset=0)))
    for not_base64 in ("\u20ac", "abc", "a b="):
        letter["original"] = not_base64
        assert _reason(Codec(DeadLetter), json.dumps(letter).encode()) is Reason.SCHEMA_VIOLATION


def test_invariant_violation() -> None:
    document = {"event_id": "e", "event_time": 1, "graph": "A", "op": "ADD_TRIPLE", "head": "h"}
    assert _reason(Codec(TripleChange), json.dumps(document).encode()) is (
        Reason.INVARIANT_VIOLATION)
    assert _reason(Codec(Label, AVRO), _avro_label(_label_body(left=b""))) is (
        Reason.INVARIANT_VIOLATION)


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x00\x00\x00"])
def test_truncated_header(data: bytes) -> None:
    assert _reason(Codec(Label, AVRO), data) is Reason.TRUNCATED


def test_truncated_body() -> None:
    data = Codec(Label, AVRO).encode(LABEL)
    assert _reason(Codec(Label, AVRO), data[:-1]) is Reason.TRUNCATED


def test_trailing_bytes() -> None:
    data = Codec(Label, AVRO).encode(LABEL)
    assert _reason(Codec(Label, AVRO), data + b"\x00") is Reason.TRAILING_BYTES


def test_bad_magic_byte() -> None:
    data = Codec(Label, AVRO).encode(LABEL)
    assert _reason(Codec(Label, AVRO), b"\x01" + data[1:]) is Reason.BAD_MAGIC_BYTE
    assert _reason(Codec(Label, AVRO), Codec(Label).encode(LABEL)) is Reason.BAD_MAGIC_BYTE


def test_unknown_schema_id_without_registry() -> None:
    assert _reason(Codec(Label, AVRO), _avro_label(_label_body(), 4)) is Reason.UNKNOWN_SCHEMA_ID
    other_ids = AVRO.model_copy(update={"schema_ids": {Label.avro_name: 42}})
    assert Codec(Label, other_ids).decode(_avro_label(_label_body(), 42)).left == "a"


def test_invalid_avro() -> None:
    assert _reason(Codec(Label, AVRO), _avro_label(_label_body(label_index=7))) is (
        Reason.INVALID_AVRO)


def test_undecodable_wraps_anything_unforeseen(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise KeyError("surprise")

    data = Codec(Label).encode(LABEL)
    monkeypatch.setattr(codec_module._JSON, "decode", explode)  # on every JSON decode
    with pytest.raises(DecodeError) as caught:
        Codec(Label).decode(data)
    assert caught.value.reason is Reason.UNDECODABLE
    assert isinstance(caught.value.__cause__, KeyError)


def test_errors_are_bounded_and_picklable() -> None:
    document = {**json.loads(Codec(Label).encode(LABEL)), "left": ["x" * 10_000]}
    with pytest.raises(DecodeError) as caught:
        Codec(Label).decode(json.dumps(document).encode())
    assert len(caught.value.message) <= 500
    copied = pickle.loads(pickle.dumps(caught.value))
    assert (copied.reason, copied.message) == (caught.value.reason, caught.value.message)


# --- encode ----------------------------------------------------------------------------------


def _encode_reason(codec: Codec, event: object) -> Reason:
    with pytest.raises(EncodeError) as caught:
        codec.encode(event)  # type: ignore[arg-type]
    return caught.value.reason


@pytest.mark.parametrize("settings", [JSON, AVRO], ids=["json", "avro"])
def test_encode_refuses_invalid_events(settings: CodecSettings) -> None:
    codec = Codec(TripleChange, settings)
    assert _encode_reason(codec, LABEL) is Reason.WRONG_TYPE
    unchecked = TripleChange.model_construct(event_id="e", event_time=1, graph="A",
                                             op=TripleOp.ADD_TRIPLE, head="h")
    assert _encode_reason(codec, unchecked) is Reason.INVARIANT_VIOLATION
    lone_surrogate = TripleChange.model_construct(event_id="e", event_time=1, graph="A",
                                                  op=TripleOp.DELETE_ENTITY, head="\ud800")
    assert _encode_reason(codec, lone_surrogate) is Reason.INVARIANT_VIOLATION


def test_encode_catches_a_model_that_drifted_from_its_schema() -> None:
    class DriftedLabel(Label):
        source: int  # type: ignore[assignment]

    drifted = DriftedLabel(event_id="e", event_time=1, left="a", right="b", label="MATCH",
                           source=3)
    assert _encode_reason(Codec(DriftedLabel), drifted) is Reason.SCHEMA_VIOLATION


def test_encode_wraps_anything_unforeseen(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(fastavro, "schemaless_writer", explode)
    assert _encode_reason(Codec(Label, AVRO), LABEL) is Reason.UNENCODABLE


# --- with a Schema Registry (an in-memory stand-in: no registry runs here) ---------------------


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> FakeRegistry:
    """One fake registry, also returned by the client the codec builds from a URL."""
    fake = FakeRegistry()
    module = types.SimpleNamespace(Schema=FakeSchema, SchemaRegistryClient=lambda conf: fake)
    monkeypatch.setitem(sys.modules, "confluent_kafka.schema_registry", module)
    return fake


REGISTRY = AVRO.model_copy(update={"schema_registry_url": "http://registry.invalid:8081",
                                    "auto_register_schemas": True, "schema_registry_retry_s": 0})


def test_registry_round_trip_between_producer_and_consumer(registry: FakeRegistry) -> None:
    data = Codec(Label, REGISTRY, topic="kg.labels").encode(LABEL)
    assert int.from_bytes(data[1:5], "big") == registry.by_subject["kg.labels-value"]
    assert Codec(Label, REGISTRY).decode(data) == LABEL


def test_registry_lookup_without_auto_register(registry: FakeRegistry) -> None:
    lookup_only = REGISTRY.model_copy(update={"auto_register_schemas": False})
    with pytest.raises(EncodeError, match=r"not registered under subject kg\.labels-value") as err:
        Codec(Label, lookup_only, topic="kg.labels").encode(LABEL)
    assert err.value.reason is Reason.SCHEMA_NOT_REGISTERED and not err.value.is_bad_input
    assert not registry.by_subject  # looked up, never registered
    registry.add(schema_text(Label.avro_name), "kg.labels-value")
    codec = Codec(Label, lookup_only, topic="kg.labels")
    assert codec.prepare() == registry.by_subject["kg.labels-value"]
    assert codec.decode(codec.encode(LABEL)) == LABEL


@pytest.mark.parametrize(("strategy", "subject"), [
    ("TopicNameStrategy", "kg.labels-value"),
    ("RecordNameStrategy", "io.streamalign.v1.Label"),
    ("TopicRecordNameStrategy", "kg.labels-io.streamalign.v1.Label"),
])
def test_subject_name_strategies(registry: FakeRegistry, strategy: str, subject: str) -> None:
    settings = REGISTRY.model_copy(update={"subject_name_strategy": strategy})
    Codec(Label, settings, topic="kg.labels").encode(LABEL)
    assert list(registry.by_subject) == [subject]


def test_a_topic_strategy_codec_needs_its_topic_to_write(registry: FakeRegistry) -> None:
    with pytest.raises(EncodeError, match="needs the topic"):
        Codec(Label, REGISTRY).encode(LABEL)


def test_registry_reads_an_older_writer_schema(registry: FakeRegistry) -> None:
    old = json.loads(schema_text(TripleChange.avro_name))
    old["fields"] = [f for f in old["fields"] if f["name"] not in ("entity_type", "attributes")]
    old_id = registry.add(json.dumps(old))
    record = {"event_id": "e", "event_time": 1, "graph": "A", "op": "DELETE_ENTITY", "head": "h",
              "relation": None, "tail": None}
    body = io.BytesIO()
    fastavro.schemaless_writer(body, fastavro.parse_schema(old), record)
    decoded = Codec(TripleChange, REGISTRY).decode(b"\x00" + old_id.to_bytes(4, "big")
                                                    + body.getvalue())
    assert decoded.attributes == {} and decoded.entity_type is None


def test_registry_reasons(registry: FakeRegistry) -> None:
    codec = Codec(TripleChange, REGISTRY, topic="kg.triples")
    label_id = registry.add(schema_text(Label.avro_name))
    assert _reason(codec, _avro_label(_label_body(), label_id)) is Reason.SCHEMA_MISMATCH
    assert _reason(codec, _avro_label(_label_body(), 999)) is Reason.UNKNOWN_SCHEMA_ID
    registry.down = True
    with pytest.raises(DecodeError) as caught:
        codec.decode(_avro_label(_label_body(), 998))
    assert caught.value.reason is Reason.REGISTRY_UNAVAILABLE and not caught.value.is_bad_input
    event = TripleChange.delete_entity("A", "h")
    assert _encode_reason(codec, event) is Reason.REGISTRY_UNAVAILABLE


def test_settings_reject_nonsense() -> None:
    with pytest.raises(ValueError):
        CodecSettings(max_bytes=0)
    with pytest.raises(ValueError):
        CodecSettings(encoding="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no id for subject"):
        Codec(AlignmentEvent, AVRO.model_copy(update={"schema_ids": {}}))
