"""Arrays indexed by dense integer ids (nodes, FAISS ids) that grow as new ids appear."""

from __future__ import annotations

import numpy as np


def grown(array: np.ndarray, size: int, fill: float | bool) -> np.ndarray:
    """``array`` with at least ``size`` rows, new rows set to ``fill`` (capacity doubles, so
    growing one id at a time stays amortised O(1))."""
    if size <= len(array):
        return array
    out = np.full((max(size, 2 * len(array), 1024), *array.shape[1:]), fill, dtype=array.dtype)
    out[: len(array)] = array
    return out


def lookup(array: np.ndarray, ids: np.ndarray, missing: float) -> np.ndarray:
    """``array[ids]``, with ``missing`` for ids past its end."""
    out = np.full(len(ids), missing, dtype=array.dtype)
    inside = ids < len(array)
    out[inside] = array[ids[inside]]
    return out


def nonzero_sparse(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.nonzero`` of a 2-D boolean matrix with few ``True`` cells: the same two arrays
    (row-major order, ``intp``), found eight cells at a time. A candidate scan asks which of
    a ``changed × graph`` matrix's cells reach a list bound — a few hundred of millions of
    cells — and ``np.nonzero`` visits every cell (≈ 56 ms for 21M cells against ≈ 7 ms here,
    docs/BENCHMARKS.md, decision 0062)."""
    if mask.ndim != 2 or mask.dtype != np.bool_:
        raise ValueError("nonzero_sparse takes a 2-D boolean matrix")
    flat = np.ascontiguousarray(mask).reshape(-1)
    whole = flat.size // 8 * 8
    words = np.flatnonzero(flat[:whole].view(np.uint64))
    cells = (words[:, None] * 8 + np.arange(8)).reshape(-1)
    cells = np.concatenate([cells[flat[cells]], whole + np.flatnonzero(flat[whole:])])
    rows, cols = np.divmod(cells, max(mask.shape[1], 1))
    return rows.astype(np.intp), cols.astype(np.intp)


def segments(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``data[starts[i]:starts[i] + lengths[i]]`` of every ``i``, concatenated: one gather, not
    a slice per segment (a restore decodes millions of stored rows joined into one buffer,
    decision 0067)."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    ends = np.cumsum(lengths)
    if not len(ends) or not ends[-1]:
        return data[:0]
    shift = np.repeat(starts - (ends - lengths), lengths)
    return data[np.arange(int(ends[-1]), dtype=np.int64) + shift]


def positions(order: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``ids`` (``-1`` padding; each other id in ``order``, whose entries are distinct) as
    positions in ``order``, padding at ``len(order)``: a padded neighbour table over a local
    row order."""
    sorter = np.argsort(order, kind="stable")
    out = np.full(ids.shape, len(order), dtype=np.int64)
    filled = ids >= 0  # searched in the sorted copy: ``sorter=`` reads ``order`` indirectly
    out[filled] = sorter[np.searchsorted(order[sorter], ids[filled])]
    return out
