"""Candidate lists and pair scores: what lets a restore skip the batch alignment it implies.

Rebuilding every candidate list and re-scoring every candidate pair from the stored vectors is
a batch alignment — quadratic products and cross-graph attention for every pair: 81 % of a
restore at 40K entities a side (docs/BENCHMARKS.md, decision 0033). So the engine's lists and
pair scores are stored with the state they follow, a row per entity (a list: its bound and
members; a left entity: all its scored pairs), members named by FAISS id (8 bytes, the store's
own id map, where entity keys run to ~60 bytes). ``state`` records whether the rows are also
*current* — written by an engine with no held work, under a given model version and list
settings — which is when a restore reads them instead of rebuilding them.
"""

from collections.abc import Iterator

import numpy as np

from stream_align.store.errors import CorruptValueError
from stream_align.store.keys import Table, pack, unpack
from stream_align.store.pending import PendingWrites
from stream_align.store.settings import StoreSettings

STATE = b"candidates/state"
_IDS, _SCORES, _BOUND = np.dtype("<i8"), np.dtype("<f4"), np.dtype("<f8")

Row = tuple[np.ndarray, np.ndarray]  # FAISS ids (int64), scores (float32)
ENCODE_ROWS = 16_384
"""Rows encoded at a time by ``put_lists``: a bulk refresh sets every list (400,000 rows at 200K
entities a side), and encoding them at once held the reordered ids, a byte matrix, its mask and
the values of all rows together — ≈ 1 KB an entity at that moment; a slice bounds that copy
(decision 0050)."""


def _encode_rows(ids: np.ndarray, scores: np.ndarray, keep: np.ndarray,
                 heads: np.ndarray) -> list[bytes]:
    """The stored value of each row ``i``: ``heads[i]``'s bytes, then the ids (``<i8``) and
    the scores (``<f4``) of the row where ``keep``, in order — one masked copy of all rows'
    bytes, not an encoding per row."""
    n, width = keep.shape
    count = keep.sum(axis=1)
    order = np.argsort(~keep, axis=1, kind="stable")  # kept entries first, in their order
    id_rows = np.take_along_axis(np.asarray(ids), order, axis=1).astype(_IDS)
    score_rows = np.take_along_axis(np.asarray(scores), order, axis=1).astype(_SCORES)
    cells = np.concatenate([heads.reshape(n, 1).view(np.uint8),
                            id_rows.view(np.uint8).reshape(n, 8 * width),
                            score_rows.view(np.uint8).reshape(n, 4 * width)], axis=1)
    taken = np.concatenate([np.ones((n, heads.dtype.itemsize), dtype=bool),
                            np.arange(8 * width) < 8 * count[:, None],
                            np.arange(4 * width) < 4 * count[:, None]], axis=1)
    flat = cells[taken].tobytes()
    ends = np.cumsum(taken.sum(axis=1)).tolist()
    return [flat[lo:hi] for lo, hi in zip([0, *ends][:-1], ends, strict=True)]


def _decode(value: bytes, start: int = 0) -> Row:
    if (len(value) - start) % 12:
        raise CorruptValueError(f"candidate row of {len(value)} bytes")
    n = (len(value) - start) // 12
    ids = np.frombuffer(value, dtype=_IDS, count=n, offset=start).astype(np.int64)
    return ids, np.frombuffer(value, dtype=_SCORES, count=n, offset=start + 8 * n).copy()


class CandidateStore:
    """Candidate-list and pair-score reads and writes inside one transaction."""

    def __init__(self, kv: PendingWrites, settings: StoreSettings) -> None:
        self._kv = kv
        self._settings = settings

    def put_lists(self, graph: str, entity_ids: list[str], bounds: np.ndarray,
                  ids: np.ndarray, scores: np.ndarray) -> None:
        """Store entities' lists: row ``i`` is ``entity_ids[i]``'s bound and members (FAISS ids
        of the other graph, best first: the ids ``>= 0`` of ``ids[i]``, in order) with their
        scores; a row with none deletes the entity's list. The values are encoded
        ``ENCODE_ROWS`` rows at once, not per row (a small batch changes tens of thousands of
        lists) and not all at once (a bulk refresh changes every list)."""
        self._settings.check_graph(graph)
        prefix, heads = pack(graph), np.ascontiguousarray(bounds, dtype=_BOUND)
        for lo in range(0, len(entity_ids), ENCODE_ROWS):
            part = slice(lo, lo + ENCODE_ROWS)
            keep = np.asarray(ids[part]) >= 0
            values = _encode_rows(ids[part], scores[part], keep, heads[part])
            for entity_id, value, listed in zip(entity_ids[part], values,
                                                keep.any(axis=1).tolist(), strict=True):
                if listed:
                    self._kv.put(Table.CANDIDATES, prefix + pack(entity_id), value)
                else:
                    self._kv.delete(Table.CANDIDATES, prefix + pack(entity_id))

    def lists(self, graph: str) -> Iterator[tuple[str, float, np.ndarray, np.ndarray]]:
        """Every ``(entity, bound, member ids, scores)`` of ``graph``, in key order."""
        self._settings.check_graph(graph)
        prefix = pack(graph)
        for key, value in self._kv.scan(Table.CANDIDATES, prefix):
            bound = float(np.frombuffer(value, dtype=_BOUND, count=1)[0])
            yield unpack(key, len(prefix))[0], bound, *_decode(value, 8)

    def put_pair_rows(self, lefts: list[str], offsets: np.ndarray, rights: np.ndarray,
                      scores: np.ndarray) -> None:
        """Store every scored pair of left entities (CSR: ``lefts[i]``'s pairs are the FAISS
        ids ``>= 0`` of the right graph among ``rights[offsets[i]:offsets[i + 1]]``, with their
        scores); a row with none deletes the entity's pairs."""
        keep = np.asarray(rights) >= 0
        kept = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])[np.asarray(offsets)]
        id_bytes = np.asarray(rights)[keep].astype(_IDS).tobytes()
        score_bytes = np.asarray(scores)[keep].astype(_SCORES).tobytes()
        for left, lo, hi in zip(lefts, kept[:-1].tolist(), kept[1:].tolist(), strict=True):
            if hi > lo:
                self._kv.put(Table.PAIR_SCORE, pack(left),
                             id_bytes[8 * lo:8 * hi] + score_bytes[4 * lo:4 * hi])
            else:
                self._kv.delete(Table.PAIR_SCORE, pack(left))

    def pairs(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Every ``(left, right ids, scores)``, in key order."""
        for key, value in self._kv.scan(Table.PAIR_SCORE):
            yield unpack(key)[0], *_decode(value)

    def state(self) -> str | None:
        """What the stored rows are (``engine.candidate_state``); None: never written."""
        value = self._kv.get(Table.META, STATE)
        return None if value is None else value.decode()

    def set_state(self, state: str) -> None:
        self._kv.put(Table.META, STATE, state.encode())

    def clear(self) -> None:
        """Delete every stored list and pair score (before an engine rewrites all of them)."""
        self._kv.clear(Table.CANDIDATES)
        self._kv.clear(Table.PAIR_SCORE)
