"""A pair's evidence, defined once: which neighbour pairs the cross-graph attention weighted.

The last layer of a pair ``(a, b)`` compares every sampled neighbour slot of ``a`` with every
slot of ``b``; ``PairOutput.cross`` holds that ``k × k`` block weighted by both sides'
self-attention β. Evidence is the block's largest entries, each read as *relation and neighbour
on each side* with its **share of the pair's attention mass** (the block normalised to sum 1,
entries naming the same neighbours over the same relations summed). A share reads the same
whatever the pair's score or the model's scale, and it is what ``stream-align align`` writes and
what the service publishes in an ``AlignmentEvent`` — both call :func:`top_evidence`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class NeighbourPair:
    """One evidence entry: neighbours (indices into each graph), relation names, share."""

    left: int
    right: int
    relation_left: str
    relation_right: str
    weight: float


def top_evidence(cross: torch.Tensor, left: tuple[torch.Tensor, torch.Tensor],
                 right: tuple[torch.Tensor, torch.Tensor], relations: list[str],
                 top: int) -> list[list[NeighbourPair]]:
    """The ``top`` evidence entries of each pair, largest share first (equal shares: smaller
    ``(left, right, relation ids)`` first).

    ``cross``: ``(P, k, k)`` attention block per pair; ``left``/``right``: ``(P, k)`` neighbour
    index and relation id per slot of each pair's entity (padding slots carry no weight).
    Entries naming the same neighbours over the same relations are summed in slot order, in
    float64, as a Python loop over each pair's ``k²`` entries summed them (the same weights to
    the bit: ``test_model_evidence.py``), but as array operations over every pair at once: a
    bulk refresh's events explain every new match, and that loop was most of their evidence's
    cost (decision 0061).
    """
    p_count, k = cross.shape[0], cross.shape[2]
    flat = cross.flatten(1)
    share = (flat / flat.sum(1, keepdim=True).clamp(min=1e-12)).numpy().astype(np.float64)
    (na, ra), (nb, rb) = (tuple(t.numpy().astype(np.int64) for t in side)
                          for side in (left, right))
    pair, slot = np.nonzero(share > 0)  # row-major: each pair's slots in order
    x, y = slot // k, slot % k
    keys = np.stack([na[pair, x], nb[pair, y], ra[pair, x], rb[pair, y]])
    # one entry per pair and key, its shares summed in slot order (a stable sort keeps it)
    order = np.lexsort((*_sort_keys(keys), pair))
    keys, pair, weight = keys[:, order], pair[order], share[pair[order], slot[order]]
    first = np.ones(len(pair), dtype=bool)
    first[1:] = (pair[1:] != pair[:-1]) | (keys[:, 1:] != keys[:, :-1]).any(axis=0)
    mass = _sums_in_order(weight, np.flatnonzero(first))
    keys, pair = keys[:, first], pair[first]
    contenders = _contenders(mass, pair, p_count, top)
    keys, pair, mass = keys[:, contenders], pair[contenders], mass[contenders]
    best = np.lexsort((*_sort_keys(keys), -mass, pair))  # per pair: largest share, then key
    keys, pair, mass = keys[:, best], pair[best], mass[best]
    starts = np.searchsorted(pair, np.arange(p_count + 1))
    rank = np.arange(len(pair)) - starts[pair]
    keep = rank < top
    entries = [NeighbourPair(x, y, relations[r1], relations[r2], w) for x, y, r1, r2, w in
               zip(*keys[:, keep].tolist(), mass[keep].tolist(), strict=True)]
    bounds = np.searchsorted(pair[keep], np.arange(p_count + 1)).tolist()
    return [entries[bounds[p]:bounds[p + 1]] for p in range(p_count)]


def _contenders(mass: np.ndarray, pair: np.ndarray, p_count: int, top: int) -> np.ndarray:
    """The entries (``pair`` non-decreasing) that can be among their pair's ``top``: those
    whose mass reaches the pair's ``top``-th largest (ties kept, for the key to order), so
    the ordering sort runs over a few entries a pair instead of up to ``k²`` (it was the
    largest part of a bulk refresh's evidence, decision 0105). Every entry where a mass is
    not finite or ``top`` is not below a pair's count."""
    if top < 1 or not len(mass) or not np.isfinite(mass).all():
        return np.arange(len(mass))
    starts = np.searchsorted(pair, np.arange(p_count + 1))
    counts = np.diff(starts)
    width = int(counts.max())
    if top >= width:
        return np.arange(len(mass))
    table = np.full((p_count, width), -np.inf)
    table[pair, np.arange(len(pair)) - starts[pair]] = mass
    floor = -np.partition(-table, top - 1, axis=1)[:, top - 1]  # each pair's top-th largest
    return np.flatnonzero(mass >= floor[pair])


def _sort_keys(keys: np.ndarray) -> tuple[np.ndarray, ...]:
    """``np.lexsort``'s keys (last most significant) that order the columns of ``keys``
    (``(4, n)``: neighbours, then relation ids) as the rows compare, first row first: one
    ``int64`` of the rows' bits side by side where they are non-negative and fit 63 bits (a
    lexsort pass per key: five keys were most of a bulk refresh's evidence, decision 0066),
    else the rows themselves."""
    if not keys.shape[1]:
        return tuple(keys[::-1])
    widths = [max(int(row.max()).bit_length(), 1) for row in keys]
    if int(keys.min()) < 0 or sum(widths) > 63:
        return tuple(keys[::-1])
    packed = np.zeros(keys.shape[1], dtype=np.int64)
    for row, width in zip(keys, widths, strict=True):
        packed = (packed << width) | row
    return (packed,)


def _sums_in_order(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each run's sum (runs of ``values`` beginning at ``starts``), added one value at a time
    from 0.0 in order, as a Python loop adds them (``np.add.reduceat`` sums long runs
    pairwise: other bits)."""
    lengths = np.diff(np.append(starts, len(values)))
    out = np.zeros(len(starts), dtype=np.float64)
    for j in range(int(lengths.max(initial=0))):
        runs = np.flatnonzero(lengths > j)
        out[runs] += values[starts[runs] + j]
    return out
