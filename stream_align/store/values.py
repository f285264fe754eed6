"""Byte encodings of the stored values; deterministic, so equal state means equal bytes.

Determinism matters beyond tidiness: ``state_digest`` hashes the raw bytes, so two runs that
reached the same logical state must have written the same bytes (hence sorted JSON keys).
"""

import json
import struct
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from stream_align.store.errors import CorruptValueError, InvalidValueError
from stream_align.store.keys import pack, u32, unpack_one
from stream_align.store.records import Decision, Degree, Entity, OutboxRecord, StoredEmbedding

_F64 = struct.Struct(">d")
_U32 = struct.Struct(">I")
_DEGREE = struct.Struct(">QQ")
_FLOAT32 = np.dtype("<f4")


class _Cursor:
    """Sequential decoder that turns every short read into a ``CorruptValueError``."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._pos = 0
        self._what = what

    def _take(self, size: int) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise CorruptValueError(f"truncated {self._what} value")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def text(self) -> str:
        part, self._pos = unpack_one(self._data, self._pos)
        return part

    def u32(self) -> int:
        return int(_U32.unpack(self._take(4))[0])

    def f64(self) -> float:
        return float(_F64.unpack(self._take(8))[0])

    def optional_bytes(self) -> bytes | None:
        flag = self._take(1)
        if flag == b"\x00":
            return None
        if flag != b"\x01":
            raise CorruptValueError(f"bad presence flag in {self._what} value")
        return self._take(self.u32())

    def rest(self) -> bytes:
        chunk = self._data[self._pos :]
        self._pos = len(self._data)
        return chunk

    def at_end(self) -> bool:
        return self._pos == len(self._data)

    def finish(self) -> None:
        if self._pos != len(self._data):
            raise CorruptValueError(f"trailing bytes in {self._what} value")


def _optional_bytes(value: bytes | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + u32(len(value)) + value


def encode_entity(entity_type: str, attributes: Mapping[str, str]) -> bytes:
    """Type and attributes as sorted compact JSON."""
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items()):
        raise InvalidValueError("entity attributes must map str to str")
    body = {"type": entity_type, "attributes": dict(attributes)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    try:
        return text.encode()
    except UnicodeEncodeError as exc:
        raise InvalidValueError("entity type or attributes are not UTF-8 encodable") from exc


def decode_entity(graph: str, entity_id: str, data: bytes) -> Entity:
    """Inverse of ``encode_entity``."""
    try:
        body = json.loads(data)
        return Entity(graph, entity_id, str(body["type"]), dict(body["attributes"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptValueError(f"bad entity value for {graph}/{entity_id}") from exc


def encode_degree(degree: Degree) -> bytes:
    """Out and in counts as two u64."""
    return _DEGREE.pack(degree.out, degree.in_)


def decode_degree(data: bytes) -> Degree:
    """Inverse of ``encode_degree`` (on the hot path of every triple change, hence no cursor)."""
    if len(data) != _DEGREE.size:
        raise CorruptValueError(f"degree value of {len(data)} bytes")
    return Degree(*_DEGREE.unpack(data))


def encode_embedding(model_version: str, vector: npt.ArrayLike) -> bytes:
    """Model version, then the raw little-endian float32 vector (dimension = rest / 4)."""
    array = np.asarray(vector, dtype=_FLOAT32)
    if array.ndim != 1:
        raise InvalidValueError(f"an embedding must be a 1-d vector, got shape {array.shape}")
    return pack(model_version) + array.tobytes()


def decode_embedding(data: bytes) -> StoredEmbedding:
    """Inverse of ``encode_embedding``; the vector is a read-only view of the stored bytes."""
    cursor = _Cursor(data, "embedding")
    version = cursor.text()
    raw = cursor.rest()
    if len(raw) % _FLOAT32.itemsize:
        raise CorruptValueError("embedding length is not a multiple of 4 bytes")
    return StoredEmbedding(version, np.frombuffer(raw, dtype=_FLOAT32))


def encode_decision(decision: Decision) -> bytes:
    """Right entity, score, decision label; the left entity is the key."""
    return pack(decision.right) + _F64.pack(decision.score) + pack(decision.decision)


def decode_decision(left: str, data: bytes) -> Decision:
    """Inverse of ``encode_decision``."""
    cursor = _Cursor(data, "decision")
    decision = Decision(left, cursor.text(), cursor.f64(), cursor.text())
    cursor.finish()
    return decision


def encode_outbox(record: OutboxRecord, also: Sequence[str] = ()) -> bytes:
    """Topic, optional key, optional value (None = tombstone), headers; then, if ``also`` names
    more topics, their count and names: the same record goes to each of them after the first
    (an alignment event's log record and its compacted current-state record are the same
    bytes, stored once, decision 0081). Without ``also`` the layout is the one before it."""
    out = bytearray(pack(record.topic))
    out += _optional_bytes(record.key)
    out += _optional_bytes(record.value)
    out += u32(len(record.headers))
    for name, value in record.headers:
        out += pack(name) + _optional_bytes(value)
    if also:
        out += u32(len(also))
        for topic in also:
            out += pack(topic)
    return bytes(out)


def decode_outbox(data: bytes) -> list[OutboxRecord]:
    """Inverse of ``encode_outbox``: the record, then the same record for each ``also`` topic."""
    cursor = _Cursor(data, "outbox")
    topic, key, value = cursor.text(), cursor.optional_bytes(), cursor.optional_bytes()
    headers = []
    for _ in range(cursor.u32()):
        headers.append((cursor.text(), cursor.optional_bytes()))
    records = [OutboxRecord(topic, key, value, tuple(headers))]
    if not cursor.at_end():
        for _ in range(cursor.u32()):
            records.append(OutboxRecord(cursor.text(), key, value, records[0].headers))
    cursor.finish()
    return records
