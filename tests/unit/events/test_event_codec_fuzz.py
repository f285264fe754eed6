"""Fuzzing decode: whatever the bytes, decode returns a valid event or raises DecodeError.

An accepted input must be a model of the codec's contract that encodes and decodes back to
itself (a bit flip inside a string can make another valid event; Kafka's CRC, not the codec,
guards against that). A truncated valid message is never accepted.
"""

from __future__ import annotations

import json

import pytest
from event_strategies import EVENTS, FAST
from hypothesis import given
from hypothesis import strategies as st

from stream_align.events import (
    CONTRACTS,
    Codec,
    CodecSettings,
    DecodeError,
    Encoding,
    Event,
)

SETTINGS = [CodecSettings(), CodecSettings(encoding=Encoding.AVRO)]
CASES = [(contract, settings) for contract in CONTRACTS for settings in SETTINGS]
IDS = [f"{c.__name__}-{s.encoding}" for c, s in CASES]


def _decode_or_reject(codec: Codec, data: bytes) -> None:
    """The fuzz property: DecodeError, or a valid event that survives a round trip."""
    try:
        event = codec.decode(data)
    except DecodeError:
        return
    assert isinstance(event, codec.contract)
    assert codec.decode(codec.encode(event)) == event


def _header(codec: Codec) -> bytes:
    """The valid 5-byte Avro header, so random bodies get past the magic byte and schema id."""
    if codec.settings.encoding is Encoding.JSON:
        return b""
    return b"\x00" + codec.settings.schema_ids[codec.contract.avro_name].to_bytes(4, "big")


@pytest.mark.parametrize(("contract", "settings"), CASES, ids=IDS)
@FAST
@given(raw=st.binary(max_size=200), with_header=st.booleans())
def test_random_bytes(contract: type[Event], settings: CodecSettings, raw: bytes,
                      with_header: bool) -> None:
    codec = Codec(contract, settings)
    _decode_or_reject(codec, (_header(codec) if with_header else b"") + raw)


@pytest.mark.parametrize(("contract", "settings"), CASES, ids=IDS)
@FAST
@given(data=st.data())
def test_truncations_are_rejected(contract: type[Event], settings: CodecSettings,
                                  data: st.DataObject) -> None:
    codec = Codec(contract, settings)
    encoded = codec.encode(data.draw(EVENTS[contract]))
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(DecodeError):
        codec.decode(encoded[:cut])


@pytest.mark.parametrize(("contract", "settings"), CASES, ids=IDS)
@FAST
@given(data=st.data())
def test_bit_flips(contract: type[Event], settings: CodecSettings, data: st.DataObject) -> None:
    codec = Codec(contract, settings)
    corrupted = bytearray(codec.encode(data.draw(EVENTS[contract])))
    bits = data.draw(st.lists(st.integers(0, len(corrupted) * 8 - 1), min_size=1, max_size=3))
    for bit in bits:
        corrupted[bit // 8] ^= 1 << (bit % 8)
    _decode_or_reject(codec, bytes(corrupted))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__)
@FAST
@given(data=st.data())
def test_json_fields_of_the_wrong_shape(contract: type[Event], data: st.DataObject) -> None:
    """Valid JSON, but one field (or one unknown key) holds an arbitrary JSON value."""
    codec = Codec(contract)
    document = json.loads(codec.encode(data.draw(EVENTS[contract])))
    field = data.draw(st.sampled_from([*sorted(document), "unknown"]))
    document[field] = data.draw(JSON_VALUES)
    _decode_or_reject(codec, json.dumps(document).encode())
