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
