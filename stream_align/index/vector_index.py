"""An ID-mapped inner-product FAISS index with add/remove by id: one per graph.

HNSW cannot remove ids in FAISS; the streaming engine replaces vectors on every change, so this
is ``IndexIDMap2(IndexFlatIP)``: exact search, ``remove_ids`` supported, and ``add`` of an id
that exists replaces its vector in place (so an id never has two vectors). Exact search over
20k–130k vectors of a few hundred dimensions is milliseconds per query batch; an IVF variant
can replace the flat quantiser when a graph outgrows that.
"""

from __future__ import annotations

import faiss
import numpy as np

from stream_align.arrays import grown, lookup


def prepared(vectors: np.ndarray, dim: int, normalise: bool) -> np.ndarray:
    """``vectors`` as contiguous float32 rows of ``dim``, unit length where ``normalise``."""
    x = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, dim)
    if normalise:
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.ascontiguousarray(x, dtype=np.float32)


class VectorIndex:
    """Vectors keyed by ``int64`` ids; ``search`` returns ids and inner products."""

    def __init__(self, dim: int, normalise: bool = True) -> None:
        self.dim, self.normalise = dim, normalise
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._row = np.zeros(0, dtype=np.int64)  # id → row of the flat storage (-1: absent)
        self._columns: np.ndarray | None = None  # (dim, capacity): the storage transposed

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert or replace the vectors of ``ids``.

        A replaced vector is overwritten where it is stored: ``remove_ids`` compacts the whole
        flat storage (linear in the index size, so once per batch and graph at most)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        if len(ids) != len(set(ids.tolist())):
            raise ValueError("duplicate ids in one add")
        x = prepared(vectors, self.dim, self.normalise)
        rows = lookup(self._row, ids, -1)
        old = rows >= 0
        if old.any():
            self._storage()[rows[old]] = x[old]
        new = ids[~old]
        start = len(self)
        if len(new):
            self._index.add_with_ids(x[~old], new)
            self._row = grown(self._row, int(new.max()) + 1, -1)
            self._row[new] = np.arange(start, start + len(new))
        if self._columns is not None:
            self._columns = _put_columns(self._columns, rows[old], x[old], start, x[~old])

    def remove(self, ids: np.ndarray) -> int:
        """Drop ``ids`` (absent ones are ignored); returns how many were removed."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        removed = int(self._index.remove_ids(ids)) if len(ids) else 0
        if removed:  # the storage was compacted: every later row moved up
            self._columns = None  # transposed again when next asked for
            self._row[:] = -1
            stored = faiss.vector_to_array(self._index.id_map)
            self._row[stored] = np.arange(len(stored))
        return removed

    def _storage(self) -> np.ndarray:
        """The flat storage as a writable ``(n, dim)`` view (valid until the next add)."""
        flat = faiss.downcast_index(self._index.index)
        return faiss.rev_swig_ptr(flat.get_xb(), len(self) * self.dim).reshape(-1, self.dim)

    def columns(self) -> np.ndarray:
        """The stored vectors as columns, ``(dim, n)``: column ``j`` is row ``j`` of
        :meth:`rows` (a view, valid until the next ``add``/``remove``). A scan's product
        ``q @ columns()`` has the bits of ``q @ rows()[1].T`` for two or more query rows (one
        row takes BLAS's matrix-vector path, whose sums differ) and costs less: BLAS packs a
        transposed operand again on every product, ≈ 2.5 ms of the 11 ms a 64-row product
        against 19,572 rows takes (docs/BENCHMARKS.md, decision 0136). Kept from the first
        call on, for as long again as the storage: column writes on ``add``, transposed anew
        after a ``remove``."""
        if self._columns is None:
            rows = self._storage() if len(self) else np.zeros((0, self.dim), dtype=np.float32)
            self._columns = np.empty((self.dim, _capacity(len(self))), dtype=np.float32)
            self._columns[:, :len(self)] = rows.T
        return self._columns[:, :len(self)]

    def reconstruct_many(self, ids: np.ndarray) -> np.ndarray:
        """``(len(ids), dim)`` stored vectors: the flat storage's rows, copied by ``np.take``
        (the same floats as FAISS's ``reconstruct_batch``, without its per-call cost: 2.5 ms
        for 200 ids against 0.04, decision 0076). An absent id raises ``KeyError``."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = self.positions(ids)
        if (rows < 0).any():
            raise KeyError(f"ids not in the index: {ids[rows < 0][:5].tolist()}")
        return np.take(self._storage(), rows, axis=0)

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Each id's row in :meth:`rows` (``-1``: absent, or a negative id)."""
        ids = np.asarray(ids, dtype=np.int64)
        return np.where(ids >= 0, lookup(self._row, np.maximum(ids, 0), -1), -1)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, vectors)`` of every stored row, as FAISS holds them (a view: valid until the
        next ``add``/``remove``). For scans that need every score, not only the top k."""
        if not len(self):
            return np.zeros(0, dtype=np.int64), np.zeros((0, self.dim), dtype=np.float32)
        return faiss.vector_to_array(self._index.id_map), self._storage()

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)``, each ``(len(queries), k)``; missing slots have id ``-1``.

        Queries are taken as given (not normalised): a scaled query keeps its ranking, and BCE
        models weight their query side.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, len(self))) if len(self) else 1
        return self._index.search(q, k)


def _capacity(rows: int) -> int:
    """Columns to hold ``rows`` stored vectors with room for an eighth more (or 1,024)."""
    return rows + max(rows >> 3, 1024)


def _put_columns(columns: np.ndarray, replaced: np.ndarray, old: np.ndarray, start: int,
                 new: np.ndarray) -> np.ndarray:
    """``VectorIndex.add``'s vectors written into its kept columns: ``old`` over the rows
    ``replaced``, ``new`` from row ``start`` on (into grown columns where they are full)."""
    columns[:, replaced] = old.T
    end = start + len(new)
    if end > columns.shape[1]:
        grown_columns = np.empty((len(columns), _capacity(end)), dtype=np.float32)
        grown_columns[:, :start] = columns[:, :start]
        columns = grown_columns
    columns[:, start:end] = new.T
    return columns
