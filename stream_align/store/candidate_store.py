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


def _encode(ids: np.ndarray, scores: np.ndarray, head: bytes = b"") -> bytes:
    return head + ids.astype(_IDS).tobytes() + scores.astype(_SCORES).tobytes()


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

    def put_list(self, graph: str, entity_id: str, bound: float, ids: np.ndarray,
                 scores: np.ndarray) -> None:
        """Store an entity's list: its bound, members (FAISS ids of the other graph, best
        first) and their scores."""
        self._settings.check_graph(graph)
        head = np.array([bound], dtype=_BOUND).tobytes()
        self._kv.put(Table.CANDIDATES, pack(graph, entity_id), _encode(ids, scores, head))

    def delete_list(self, graph: str, entity_id: str) -> None:
        """Forget an entity's list (no-op if it has none)."""
        self._settings.check_graph(graph)
        self._kv.delete(Table.CANDIDATES, pack(graph, entity_id))

    def lists(self, graph: str) -> Iterator[tuple[str, float, np.ndarray, np.ndarray]]:
        """Every ``(entity, bound, member ids, scores)`` of ``graph``, in key order."""
        self._settings.check_graph(graph)
        prefix = pack(graph)
        for key, value in self._kv.scan(Table.CANDIDATES, prefix):
            bound = float(np.frombuffer(value, dtype=_BOUND, count=1)[0])
            yield unpack(key, len(prefix))[0], bound, *_decode(value, 8)

    def put_pairs(self, left: str, rights: np.ndarray, scores: np.ndarray) -> None:
        """Store every scored pair of a left entity (FAISS ids of the right graph)."""
        self._kv.put(Table.PAIR_SCORE, pack(left), _encode(rights, scores))

    def delete_pairs(self, left: str) -> None:
        """Forget a left entity's pairs (no-op if it has none)."""
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
