"""Entity embeddings and the FAISS id map: what restarting the vector index needs.

FAISS indexes vectors by int64 id, so every entity that enters an index gets a stable id from a
persisted counter; ids are never reused, so a stale id in an index cannot name another entity.
The engine hands the ids out (it owns the counter while it runs, ``engine.side.FaissIds``) and
the counter's next value is stored with the rows that used the earlier ones. The map is kept in
both directions (search results come back as ids).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np
import numpy.typing as npt

from stream_align.store import blocks
from stream_align.store.counters import FAISS_ID, peek
from stream_align.store.errors import CorruptValueError
from stream_align.store.keys import Table, pack, read_u64, u64, unpack, unpack_one
from stream_align.store.pending import PendingWrites
from stream_align.store.records import StoredEmbedding
from stream_align.store.settings import StoreSettings
from stream_align.store.values import decode_embedding, encode_embedding

QUANTISER = b"ivf_quantiser/"
_NO_ID = b"\xff" * 8  # read as FAISS id -1: an embedding without an id


CHUNK = 65_536
"""Embedding rows decoded at a time on restore (≈ 70 MB of 256-float rows): joined whole, a
graph's rows, their joined copy and the matrix were each ≈ 1 GB at 1M entities."""


def _decode_vectors(values: list[bytes], version: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Which values are of ``version`` and their vectors, ``(n, dim)`` ``float32``."""
    buf, starts, lengths = blocks.joined(values)
    (at, size), = blocks.components(buf, starts, starts + lengths, 1)
    current = blocks.equal_to(buf, at, size, version)
    width = (lengths - size)[current]
    if len(width) and ((width != width[0]).any() or width[0] % 4):
        raise CorruptValueError("embeddings of one model version of unequal lengths")
    dim = int(width[0]) // 4 if len(width) else 0
    return current, blocks.windows(buf, (at + size)[current], 4 * dim).view("<f4")


def _grown(vectors: np.ndarray, rows: int, dim: int) -> np.ndarray:
    out = np.empty((rows, dim), dtype=np.float32)
    if len(vectors):
        out[:len(vectors)] = vectors
    return out


@dataclass
class EmbeddingRows:
    """A graph's embeddings: ``keys[i]`` has FAISS id ``faiss_ids[i]`` (``-1``: none) and,
    where ``current[i]``, the next row of ``vectors`` (the model version asked for)."""

    keys: list[str]
    faiss_ids: np.ndarray  # int64 (n,)
    current: np.ndarray  # bool (n,)
    vectors: np.ndarray  # float32 (current.sum(), dim)


class EmbeddingStore:
    """Embedding and id-map reads and writes inside one transaction."""

    def __init__(self, kv: PendingWrites, settings: StoreSettings) -> None:
        self._kv = kv
        self._settings = settings

    def _key(self, graph: str, *parts: str) -> bytes:
        self._settings.check_graph(graph)
        return pack(graph, *parts)

    def put(self, graph: str, entity_id: str, vector: npt.ArrayLike, model_version: str) -> None:
        """Store the vector (as float32) and the model version that computed it."""
        value = encode_embedding(model_version, vector)
        self._kv.put(Table.EMBEDDING, self._key(graph, entity_id), value)

    def get(self, graph: str, entity_id: str) -> StoredEmbedding | None:
        """The stored embedding, or None."""
        value = self._kv.get(Table.EMBEDDING, self._key(graph, entity_id))
        return None if value is None else decode_embedding(value)

    def delete(self, graph: str, entity_id: str) -> None:
        """Forget the entity's embedding (no-op if there is none)."""
        self._kv.delete(Table.EMBEDDING, self._key(graph, entity_id))

    def all(self, graph: str) -> Iterator[tuple[str, StoredEmbedding]]:
        """Every ``(entity, embedding)`` of ``graph`` in key order."""
        prefix = self._key(graph)
        for key, value in self._kv.scan(Table.EMBEDDING, prefix):
            (entity_id,) = unpack(key, len(prefix))
            yield entity_id, decode_embedding(value)

    def all_with_ids(self, graph: str) -> Iterator[tuple[str, StoredEmbedding, int | None]]:
        """Every ``(entity, embedding, FAISS id or None)`` of ``graph`` in key order: the
        embedding and id tables share their keys, so two scans joined on the raw key bytes
        replace a point lookup per entity (a restore reads every embedding)."""
        prefix = self._key(graph)
        ids = self._kv.scan(Table.FAISS_ID, prefix)
        bound = next(ids, None)
        for key, value in self._kv.scan(Table.EMBEDDING, prefix):
            while bound is not None and bound[0] < key:
                bound = next(ids, None)
            fid = read_u64(bound[1]) if bound is not None and bound[0] == key else None
            (entity_id,) = unpack(key, len(prefix))
            yield entity_id, decode_embedding(value), fid

    def read_all(self, graph: str, model_version: str) -> EmbeddingRows:
        """Every embedding of ``graph`` with its FAISS id at once, the vectors of
        ``model_version`` as one matrix (a restore reads them all: rows decoded
        ``CHUNK`` at a time into one matrix, not one at a time, decision 0067)."""
        prefix, version = self._key(graph), pack(model_version)
        ids = list(self._kv.scan(Table.FAISS_ID, prefix))
        keys: list[bytes] = []
        current: list[np.ndarray] = []
        vectors = np.zeros((0, 0), dtype=np.float32)
        count, rows = 0, self._kv.scan(Table.EMBEDDING, prefix)
        while chunk := list(islice(rows, CHUNK)):
            keys.extend(key for key, _ in chunk)
            mine, found = _decode_vectors([value for _, value in chunk], version)
            current.append(mine)
            if not len(found):
                continue
            if count and found.shape[1] != vectors.shape[1]:
                raise CorruptValueError(f"embeddings of {model_version} of unequal lengths")
            if count + len(found) > len(vectors) or found.shape[1] != vectors.shape[1]:
                vectors = _grown(vectors[:count], max(len(ids), 2 * len(vectors),
                                                     count + len(found)), found.shape[1])
            vectors[count:count + len(found)] = found
            count += len(found)
        if [key for key, _ in ids] != keys:  # an embedding without an id, or the reverse
            given = dict(ids)
            ids = [(key, given.get(key, _NO_ID)) for key in keys]
        raw, id_at, _ = blocks.joined([value for _, value in ids])
        fids = blocks.column(raw, id_at, np.dtype(">u8")).astype(np.int64)
        return EmbeddingRows(blocks.key_texts(keys, len(prefix)), fids,
                             np.concatenate(current) if current else np.zeros(0, dtype=bool),
                             vectors[:count])

    def put_quantiser(self, model_version: str, centroids: npt.ArrayLike) -> None:
        """Store the IVF coarse quantiser trained for ``model_version`` (frozen from then on:
        entities' cells must not move under a running engine or across a restart)."""
        value = np.ascontiguousarray(centroids, dtype=np.float32)
        self._kv.put(Table.META, QUANTISER + model_version.encode(),
                     u64(value.shape[0]) + u64(value.shape[1]) + value.tobytes())

    def quantiser(self, model_version: str) -> np.ndarray | None:
        """The stored quantiser of ``model_version``, ``(cells, dim)`` float32, or None."""
        value = self._kv.get(Table.META, QUANTISER + model_version.encode())
        if value is None:
            return None
        rows, cols = read_u64(value[:8]), read_u64(value[8:16])
        return np.frombuffer(value[16:], dtype=np.float32).reshape(rows, cols).copy()

    def faiss_id(self, graph: str, entity_id: str) -> int | None:
        """The entity's FAISS id, or None if it has none."""
        value = self._kv.get(Table.FAISS_ID, self._key(graph, entity_id))
        return None if value is None else read_u64(value)

    def bind_faiss_id(self, graph: str, entity_id: str, faiss_id: int) -> None:
        """Give the entity ``faiss_id`` (replacing an earlier id's reverse row)."""
        existing = self.faiss_id(graph, entity_id)
        if existing == faiss_id:
            return
        if existing is not None:
            self._kv.delete(Table.FAISS_ENTITY, pack(graph) + u64(existing))
        self._kv.put(Table.FAISS_ID, self._key(graph, entity_id), u64(faiss_id))
        self._kv.put(Table.FAISS_ENTITY, pack(graph) + u64(faiss_id), pack(entity_id))

    def next_faiss_id(self) -> int:
        """The id the next entity entering an index gets."""
        return peek(self._kv, FAISS_ID)

    def set_next_faiss_id(self, value: int) -> None:
        """Advance the id counter (with the rows that used the ids below ``value``)."""
        self._kv.put(Table.META, FAISS_ID, u64(value))

    def entity_for_faiss_id(self, graph: str, faiss_id: int) -> str | None:
        """The entity a FAISS search result names; None for a released id or FAISS's -1 filler."""
        if faiss_id < 0:
            return None
        value = self._kv.get(Table.FAISS_ENTITY, self._key(graph) + u64(faiss_id))
        return None if value is None else unpack_one(value)[0]

    def release_faiss_id(self, graph: str, entity_id: str) -> int | None:
        """Drop the entity's id (e.g. when it is deleted); return it so the index can remove it."""
        existing = self.faiss_id(graph, entity_id)
        if existing is not None:
            self._kv.delete(Table.FAISS_ID, pack(graph, entity_id))
            self._kv.delete(Table.FAISS_ENTITY, pack(graph) + u64(existing))
        return existing
