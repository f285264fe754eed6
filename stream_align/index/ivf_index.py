"""An inverted-file (IVF) inner-product index over a frozen coarse quantiser: sublinear search
with replacement and removal by id.

Each stored vector lives in one *cell*: the centroid with the highest inner product. A search
probes the ``nprobe`` cells whose centroids score highest against the query and ranks only
their vectors, so a query costs ``nlist`` centroid products plus about ``n · nprobe / nlist``
vector products instead of ``n``. The quantiser is trained once (``train_quantiser``) and then
frozen: cells never move, so an entity's cell depends only on its own vector, and the engine can
keep for each cell the entities whose lists probe it (``engine.probers``) — which is what lets a
changed vector be checked against only those lists.

FAISS ``IndexIVFFlat`` holds the vectors (uncompressed, as the flat index did) or, with
``float16``, ``IndexIVFScalarQuantizer`` holds them as IEEE half floats (``QT_fp16``, not
residuals: a vector's code does not depend on its cell): 512 instead of 1,024 bytes a 256-float
vector, and with the inverted lists' growth slack ≈ 650 instead of ≈ 1,290 bytes a vector
measured (decision 0043). Every reader — searches, ``reconstruct_many``, the engine's scans and
pair scores — sees the same decoded vectors. Either way a hash-table direct map makes
``remove_ids`` and ``reconstruct`` per id, not a scan. Cells are assigned by
the quantiser here and passed to FAISS (``add_core``, ``search_preassigned``), so the cells the
engine records and the cells FAISS reads are the same numbers, not two computations of them.
"""

from __future__ import annotations

import faiss
import numpy as np
import torch

from stream_align.arrays import grown, lookup
from stream_align.index.kmeans import POINTS_PER_CELL as TRAIN_POINTS_PER_CELL
from stream_align.index.kmeans import kmeans
from stream_align.index.vector_index import prepared

READ_MIN = 4096
"""Vectors decoded at once from which ``reconstruct_many`` reads the inverted lists' codes as
arrays (one gather per list) instead of FAISS's ``reconstruct_batch`` (a hash-table lookup and
a decoder object per vector: ≈ 3 µs a vector, decision 0068); below it the lists' layout is
not worth its ``nlist`` steps."""
WIDEN_MIN = 1 << 16
"""Half floats from which :func:`widened` converts with torch (one vectorised F16C pass, ≈ 0.2
ns a value) instead of numpy's ``astype`` (a value at a time, ≈ 2 ns, decision 0125); below it
a call's fixed cost is more than the conversion."""


def as_float32(stored: np.ndarray) -> np.ndarray:
    """Stored vectors (``float32``, or ``float16`` codes) as ``float32``: :func:`widened`."""
    return widened(stored) if stored.dtype == np.float16 else stored


def widened(half: np.ndarray) -> np.ndarray:
    """``half`` (contiguous ``float16``) as ``float32``: the same values exactly (every half
    float is a float32; subnormals included), into an array numpy allocates (torch's own
    allocations are not backed by huge pages, so a large one is faulted in 4 KB at a time)."""
    out = np.empty(half.shape, dtype=np.float32)
    if half.size < WIDEN_MIN:
        out[...] = half
    else:
        torch.from_numpy(out).copy_(torch.from_numpy(np.ascontiguousarray(half)))
    return out


def training_rows(n: int, cells: int, seed: int = 0) -> np.ndarray | None:
    """Which of ``n`` vectors k-means sees for ``cells`` cells (ascending), None: all. A
    caller holding the vectors encoded (IVF codes) decodes only these."""
    cells = max(1, min(cells, n))
    if n <= TRAIN_POINTS_PER_CELL * cells:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, TRAIN_POINTS_PER_CELL * cells,
                                                      replace=False))


def train_quantiser(vectors: np.ndarray, cells: int, seed: int = 0) -> np.ndarray:
    """``(cells, dim)`` centroids from seeded spherical k-means (inner-product cells; in two
    levels from ``kmeans.TWO_LEVEL_CELLS`` cells)."""
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    cells = max(1, min(cells, len(x)))
    if (pick := training_rows(len(x), cells, seed)) is not None:
        x = x[pick]
    return kmeans(x, cells, seed)


def auto_cells(n: int) -> int:
    """A cell count for ``n`` vectors: the power of two nearest ``4 √n`` (FAISS's guidance is
    4–16 √n), at least 16."""
    return max(16, 1 << round(float(np.log2(4.0 * np.sqrt(max(n, 1))))))


class IvfVectorIndex:
    """Vectors keyed by ``int64`` ids in IVF cells; ``search`` returns ids and inner products."""

    def __init__(self, centroids: np.ndarray, nprobe: int, normalise: bool = True,
                 float16: bool = False) -> None:
        self.centroids = np.ascontiguousarray(centroids, dtype=np.float32)
        self.dim, self.normalise, self.float16 = self.centroids.shape[1], normalise, float16
        self.nlist = len(self.centroids)
        self.nprobe = max(1, min(nprobe, self.nlist))
        self._quantiser = faiss.IndexFlatIP(self.dim)
        self._quantiser.add(self.centroids)
        if float16:
            self._index = faiss.IndexIVFScalarQuantizer(
                self._quantiser, self.dim, self.nlist, faiss.ScalarQuantizer.QT_fp16,
                faiss.METRIC_INNER_PRODUCT, False)  # by_residual False: codes of the vectors
        else:
            self._index = faiss.IndexIVFFlat(self._quantiser, self.dim, self.nlist,
                                             faiss.METRIC_INNER_PRODUCT)
        self._index.is_trained = True
        self._index.set_direct_map_type(faiss.DirectMap.Hashtable)
        self._index.nprobe = self.nprobe
        self._cell = np.zeros(0, dtype=np.int64)  # id → cell (-1: absent)
        self._layout: _Layout | None = None  # the lists' codes as arrays
        self._changed: list[np.ndarray] = []  # cells an add or remove changed since read

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def code_bytes(self) -> int:
        """Bytes of one stored vector's code (what a copy of the lists holds a vector)."""
        return int(self._index.code_size)

    def assign(self, vectors: np.ndarray) -> np.ndarray:
        """The cell each (prepared) stored vector belongs to."""
        return self._quantiser.search(vectors, 1)[1].ravel()

    def probe(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(centroid scores, cells)`` a query probes, each ``(len(queries), nprobe)``."""
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        return self._quantiser.search(q, self.nprobe)

    def add(self, ids: np.ndarray, vectors: np.ndarray, as_prepared: bool = False,
            cells: np.ndarray | None = None) -> None:
        """Insert or replace the vectors of ``ids`` (a replaced vector may change cell).
        ``as_prepared``: rows another index of the same normalisation already prepared (a move
        out of the flat index), added as they are — normalising a unit vector again changes
        the last bit of ≈ 30 % of float32 rows and ≈ 1 % of half-float codes, so a moved
        vector would differ from the same vector added once (a restore's, decision 0044).
        ``cells``: each vector's cell as this quantiser assigned it before (``-1``: assign it
        now) — a restore's stored cells, where assigning all is ``n · nlist`` products
        (decision 0067)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        if len(ids) != len(set(ids.tolist())):
            raise ValueError("duplicate ids in one add")
        x = prepared(vectors, self.dim, self.normalise and not as_prepared)
        self.remove(ids[lookup(self._cell, ids, -1) >= 0])
        if cells is None:
            cells = np.ascontiguousarray(self.assign(x), dtype=np.int64)
        else:
            cells = np.array(cells, dtype=np.int64).ravel()
            if (cells >= self.nlist).any():
                raise ValueError("a stored cell beyond this quantiser's cells")
            if len(missing := np.flatnonzero(cells < 0)):
                cells[missing] = self.assign(x[missing])
        self._index.add_core(len(ids), faiss.swig_ptr(x), faiss.swig_ptr(ids),
                             faiss.swig_ptr(cells))
        self._stale(cells)
        self._cell = grown(self._cell, int(ids.max()) + 1 if len(ids) else 0, -1)
        self._cell[ids] = cells

    def remove(self, ids: np.ndarray) -> int:
        """Drop ``ids`` (absent ones are ignored); returns how many were removed."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        ids = ids[lookup(self._cell, ids, -1) >= 0]
        if not len(ids):
            return 0
        self._stale(self._cell[ids])
        removed = int(self._index.remove_ids(ids))
        self._cell[ids] = -1
        return removed

    def _stale(self, cells: np.ndarray) -> None:
        """``cells``' lists changed: read again before the next read of codes (all lists,
        once more changes are held than there are lists)."""
        self._changed.append(cells.copy())
        if sum(len(part) for part in self._changed) > self.nlist:
            self._layout, self._changed = None, []

    def cells_of(self, ids: np.ndarray) -> np.ndarray:
        """The cell of each stored id (-1: absent)."""
        return lookup(self._cell, np.asarray(ids, dtype=np.int64), -1)

    def ids(self) -> np.ndarray:
        """Every stored id, ascending."""
        return np.flatnonzero(self._cell >= 0).astype(np.int64)

    def reconstruct_many(self, ids: np.ndarray) -> np.ndarray:
        """``(len(ids), dim)`` stored vectors, ``float32``. Many at once are read from the
        lists' codes as arrays (:data:`READ_MIN`): the same bits as FAISS's decoder."""
        return as_float32(self.stored_many(ids))

    def stored_many(self, ids: np.ndarray) -> np.ndarray:
        """:meth:`reconstruct_many` in the codes' own type: ``float16`` with half-float codes
        (the same values, exactly: a half widens to a float without rounding), half the bytes
        for a caller that holds many rows and widens a few at a time (a scoring group's
        distinct entities, decision 0121)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        stored = np.float16 if self.float16 else np.float32
        if not len(ids):
            return np.zeros((0, self.dim), dtype=stored)
        if len(ids) < READ_MIN:
            return self._index.reconstruct_batch(ids).astype(stored, copy=False)
        layout = self._read_layout()
        return layout.codes(self._stored_cells(ids), ids).view(stored)

    def stored_lists(self, ids: np.ndarray, most: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray] | None:
        """Every vector of the lists holding stored ``ids`` in the codes' own type (as
        :meth:`stored_many`), list after list, and the row of each of ``ids`` in them; None
        where those lists hold more than ``most`` vectors (nothing copied: the caller reads by
        id). The same bits as :meth:`stored_many`; where the ids are a good share of their
        lists less CPU — each list one contiguous copy, no per-id gather of codes and no sort
        of the ids by cell (the scan of a batch reads most owners of the lists it meets,
        decisions 0120, 0125). One look-up of the ids' cells serves the bound and the copy."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        cells = self._stored_cells(ids)
        layout = self._read_layout()
        held = np.unique(cells)
        sizes = layout.sizes(held)
        if most is not None and int(sizes.sum()) > most:
            return None
        base = np.zeros(self.nlist, dtype=np.int64)
        base[held] = np.cumsum(sizes) - sizes
        parts = [layout.lists[cell] for cell in held.tolist()]
        codes = np.concatenate(parts) if parts else np.zeros((0, self._index.code_size),
                                                             dtype=np.uint8)
        stored = codes.view(np.float16 if self.float16 else np.float32)
        return stored.reshape(-1, self.dim), base[cells] + layout.offset[ids]

    def _stored_cells(self, ids: np.ndarray) -> np.ndarray:
        """The cell of each of ``ids``; ``KeyError`` where one is not stored."""
        cells = lookup(self._cell, np.asarray(ids, dtype=np.int64), -1)
        if (cells < 0).any():
            raise KeyError(f"id {int(np.asarray(ids)[np.argmax(cells < 0)])} is not stored")
        return cells

    def _read_layout(self) -> _Layout:
        """The lists' codes as arrays, read again where an add or remove changed them."""
        if self._layout is None:
            self._layout = _Layout(self._index.invlists, self.nlist, self._index.code_size)
            self._layout.read(np.arange(self.nlist), len(self._cell))
        elif self._changed:
            self._layout.read(np.unique(np.concatenate(self._changed)), len(self._cell))
        self._changed = []
        return self._layout

    def search(self, queries: np.ndarray, k: int,
               probes: tuple[np.ndarray, np.ndarray] | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, ids)`` of the top ``k`` among the probed cells' vectors (``probes``: from
        :meth:`probe`, when the caller already has them); missing slots have id ``-1``."""
        q = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = max(1, min(k, len(self))) if len(self) else 1
        scores, cells = probes if probes is not None else self.probe(q)
        return self._index.search_preassigned(q, k, np.ascontiguousarray(cells),
                                              np.ascontiguousarray(scores))


class _Layout:
    """The inverted lists' ids and codes as numpy views, and each id's offset in its list.
    An add or remove changes only the lists of its cells (an add may move a list's storage, a
    removal moves a list's last entry into the hole), so only those are read again: a batch's
    changed cells, not every list and every id — ``nlist`` steps and an ``n``-long scatter
    each batch at every size before (decision 0072)."""

    def __init__(self, invlists: faiss.InvertedLists, nlist: int, code_size: int) -> None:
        self.invlists, self.code_size = invlists, code_size
        self.lists: list[np.ndarray | None] = [None] * nlist
        self.offset = np.zeros(0, dtype=np.int64)

    def read(self, cells: np.ndarray, ids: int) -> None:
        """Read the lists of ``cells`` again (``ids``: one past the largest stored id)."""
        self.offset = grown(self.offset, ids, -1)
        for cell in cells.tolist():
            size = self.invlists.list_size(cell)
            if not size:
                self.lists[cell] = None
                continue
            self.offset[faiss.rev_swig_ptr(self.invlists.get_ids(cell), size)] = np.arange(size)
            self.lists[cell] = faiss.rev_swig_ptr(self.invlists.get_codes(cell),
                                                  size * self.code_size
                                                  ).reshape(size, self.code_size)

    def sizes(self, cells: np.ndarray) -> np.ndarray:
        """How many vectors each list of ``cells`` holds."""
        return np.array([0 if self.lists[cell] is None else len(self.lists[cell])
                         for cell in cells.tolist()], dtype=np.int64)

    def codes(self, cells: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """``(len(ids), code_size)`` codes of stored ``ids`` (in ``cells``): one gather per
        list they sit in."""
        out = np.empty((len(ids), self.code_size), dtype=np.uint8)
        order = np.argsort(cells, kind="stable")
        firsts, starts, counts = np.unique(cells[order], return_index=True, return_counts=True)
        offsets = self.offset[ids]
        for cell, lo, k in zip(firsts.tolist(), starts.tolist(), counts.tolist(), strict=True):
            rows = order[lo:lo + k]
            codes = self.lists[cell]
            assert codes is not None
            out[rows] = codes[offsets[rows]]
        return out
