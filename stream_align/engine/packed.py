"""Two 32-bit node ids (or a relation and a node) in one ``int64``: ``high << 32 | low``.

The engine's pair and edge structures key a pair by one packed integer so that a set of pairs
is one sorted ``int64`` array (16 bytes a pair with a value, against ≈ 150 for a Python tuple
in a set) and every membership test, union or per-node range is a numpy call. Node ids are
below ``2**31``, so a key is non-negative and sorts by its high id, then its low one.
"""

from __future__ import annotations

import numpy as np

LOW = 0xFFFFFFFF
"""The low 32 bits (a Python int: masks numpy arrays and Python ints alike)."""


def join(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """``high << 32 | low`` of two id arrays, as ``int64``."""
    return (np.asarray(high, dtype=np.int64) << 32) | np.asarray(low, dtype=np.int64)


def split(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The high and low ids of packed ``keys``."""
    return keys >> 32, keys & LOW


def swap(keys: np.ndarray) -> np.ndarray:
    """``low << 32 | high``: the same pairs keyed from the other side."""
    return (keys & LOW) << 32 | keys >> 32


def as_pairs(side: int, keys: np.ndarray) -> np.ndarray:
    """Side ``side``'s keys ``owner << 32 | other`` as ``left << 32 | right`` (side 0: left)."""
    return keys if side == 0 else swap(keys)
