"""Key and value encodings: round trips, prefix-freeness, and loud failure on bad bytes."""

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream_align.store import CorruptValueError, Decision, Degree, InvalidValueError, OutboxRecord
from stream_align.store.keys import pack, prefix_end, unpack
from stream_align.store.values import (
    decode_decision,
    decode_degree,
    decode_embedding,
    decode_entity,
    decode_outbox,
    encode_decision,
    encode_degree,
    encode_embedding,
    encode_entity,
    encode_outbox,
)

parts = st.lists(st.text(max_size=8), max_size=4)


@given(parts)
def test_pack_round_trips_any_text(components: list[str]) -> None:
    assert unpack(pack(*components)) == components


@given(parts, parts)
def test_packed_prefix_matches_only_keys_with_those_components(a: list[str], b: list[str]) -> None:
    """Prefix-freeness: pack(a) prefixes pack(b) exactly when a is a component prefix of b."""
    assert pack(*b).startswith(pack(*a)) == (b[: len(a)] == a)


def test_nul_in_ids_does_not_confuse_prefix_scans() -> None:
    assert not pack("A", "x\x00y", "r").startswith(pack("A", "x"))


def test_oversized_component_is_rejected() -> None:
    with pytest.raises(InvalidValueError):
        pack("x" * 70_000)


@given(st.binary(max_size=6))
def test_prefix_end_bounds_exactly_the_prefix(prefix: bytes) -> None:
    end = prefix_end(prefix)
    if end is None:
        assert prefix.strip(b"\xff") == b""
    else:
        assert prefix < end and not end.startswith(prefix)
        assert prefix + b"\xff" * 4 < end


def test_value_codecs_round_trip() -> None:
    entity = decode_entity("A", "e", encode_entity("film", {"name": "Ран", "year": "1985"}))
    assert (entity.type, entity.attributes) == ("film", {"name": "Ран", "year": "1985"})
    assert decode_degree(encode_degree(Degree(3, 4))) == Degree(3, 4)
    embedding = decode_embedding(encode_embedding("v1", np.arange(4.0)))
    assert embedding.model_version == "v1"
    assert embedding.vector.dtype == np.float32 and embedding.vector.tolist() == [0, 1, 2, 3]
    decision = Decision("a", "b", 0.123456789, "MATCH")
    assert decode_decision("a", encode_decision(decision)) == decision
    record = OutboxRecord("t", None, b"v", (("traceparent", b"00-x"), ("empty", None)))
    assert decode_outbox(encode_outbox(record)) == [record]


def test_an_outbox_record_for_several_topics_is_stored_once() -> None:
    record = OutboxRecord("log", b"k", b"v" * 50, (("traceparent", b"00-x"),))
    shared = encode_outbox(record, ("current", "more"))
    assert decode_outbox(shared) == [record, OutboxRecord("current", b"k", b"v" * 50,
                                                          record.headers),
                                     OutboxRecord("more", b"k", b"v" * 50, record.headers)]
    assert shared.startswith(encode_outbox(record))  # the layout before, then the topics
    assert len(shared) < 2 * len(encode_outbox(record))


def test_entity_encoding_is_independent_of_attribute_order() -> None:
    assert encode_entity("t", {"a": "1", "b": "2"}) == encode_entity("t", {"b": "2", "a": "1"})


@pytest.mark.parametrize(
    ("decode", "data"),
    [
        (lambda d: decode_entity("A", "e", d), b"{not json"),
        (decode_degree, b"\x00" * 15),
        (decode_embedding, pack("v1") + b"\x00" * 5),
        (lambda d: decode_decision("a", d), pack("b") + b"\x00"),
        (decode_outbox, pack("t") + b"\x07"),
        (decode_outbox, encode_outbox(OutboxRecord("t", None, b"v")) + b"\x00\x00\x00\x02"
         + pack("u")),
        (unpack, b"\x00\x05ab"),
    ],
)
def test_corrupt_bytes_raise_corrupt_value_error(
    decode: Callable[[bytes], object], data: bytes
) -> None:
    with pytest.raises(CorruptValueError):
        decode(data)


def test_invalid_values_are_rejected() -> None:
    with pytest.raises(InvalidValueError):
        encode_embedding("v1", np.zeros((2, 2)))
    with pytest.raises(InvalidValueError):
        encode_entity("t", {"name": 3})  # type: ignore[dict-item]
