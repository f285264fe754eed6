"""Candidates by shared anchors: a second candidate source beside the vector index.

The retrieval vector's top 10 misses the gold partner of about 2 % of the DBP15K zh_en test
sources (decision 0041), and more floats did not bring it back; but most of those partners
share *anchored neighbours* with the source — neighbours that are anchors (seed or
self-training pairs frozen in the model) whose partner the other entity has as a neighbour. So
each entity also gets, as candidates, the ``m`` entities of the other graph with which it
shares the most anchors (decision 0045):

    share(x, y) = Σ over anchors (a, a′) with a ∈ S(x), a′ ∈ S(y) of w(|R(a)|, |R(a′)|)

``S(x)`` is x's sampled neighbourhood (the encoder's own, ``model.sampling``) and ``R(a)`` the
entities that sample ``a`` (its *fan*). A hub anchor — a country half the graph samples —
says nothing about one of them: an anchor whose fan exceeds ``cap`` on either side gives
nothing (like the neighbourhood rule's fanout, decision 0040), which also bounds the work per
anchor. The weight favours rare anchors, ``w = ⌊2^20 / log2(1 + |R(a)|·|R(a′)|)⌋`` — an
integer, so a share is summed exactly in any order and the batch aligner and the streaming
engine rank equal shares the same way: by the share, then by a hash of the member's key
(stable across runs and node numberings).

The pool of ``x`` is read through the reverse sample index (``R`` of the anchors' partners),
``|S(x)| · cap`` entries at most. Both the batch aligner and the engine call :func:`heads` with
their own :class:`Side` views.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stream_align import setops

WEIGHT_SCALE = float(1 << 20)
TIE_SALT = "stream-align/anchor-candidates"
"""Salt of the key hashes that order equal shares (``model.sampling.key_hashes``)."""
_LOW = np.int64(0xFFFFFFFF)


@dataclass(frozen=True)
class AnchorSide:
    """What :func:`heads` reads of one graph, as functions of node arrays.

    ``partner(nodes)``: the other graph's node of each node's anchor (``-1``: not an anchor or
    its partner is not there); ``fan(nodes)``: how many entities sample each node;
    ``samplers(nodes)``: for ascending distinct ``nodes``, the pairs ``(i, x)`` — ``x`` samples
    ``nodes[i]``; ``tie(nodes)``: each node's key hash (``int64``)."""

    partner: Callable[[np.ndarray], np.ndarray]
    fan: Callable[[np.ndarray], np.ndarray]
    samplers: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
    tie: Callable[[np.ndarray], np.ndarray]


def weights(fan_mine: np.ndarray, fan_other: np.ndarray) -> np.ndarray:
    """``int64``: an anchor's weight from its fans on both sides (both ≥ 1)."""
    product = np.maximum(fan_mine, 1).astype(np.float64) * np.maximum(fan_other, 1)
    return np.floor(WEIGHT_SCALE / np.log2(1.0 + product)).astype(np.int64)


def shares(slots: np.ndarray, mine: AnchorSide, other: AnchorSide, cap: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every positive share of the rows of ``slots`` (their owners' sampled neighbours, ``-1``
    padded, ``(n, k)``) with the other graph: ``(row, member, share)``, sorted by row then
    member."""
    n, k = slots.shape
    flat = slots.ravel().astype(np.int64)
    # a neighbour sampled under two relations is one anchor of the row
    keys = setops.unique((np.repeat(np.arange(n, dtype=np.int64), k) << 32 | flat)[flat >= 0])
    rows, nbr = keys >> 32, keys & _LOW
    partner = mine.partner(nbr)
    rows, nbr, partner = rows[partner >= 0], nbr[partner >= 0], partner[partner >= 0]
    fan_mine, fan_other = mine.fan(nbr), other.fan(partner)
    open_ = (fan_mine <= cap) & (fan_other <= cap) & (fan_other > 0)
    rows, partner = rows[open_], partner[open_]
    weight = weights(fan_mine[open_], fan_other[open_])
    if not len(rows):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    distinct, at = np.unique(partner, return_inverse=True)
    i, members = other.samplers(distinct)
    order = np.argsort(i, kind="stable")
    i, members = i[order], members[order]
    start = np.searchsorted(i, np.arange(len(distinct)))
    count = np.diff(np.append(start, len(i)))[at]
    offset = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    expanded = members[np.repeat(start[at], count) + offset]
    pair = np.repeat(rows, count) << 32 | expanded
    unique, which = np.unique(pair, return_inverse=True)
    total = np.bincount(which, weights=np.repeat(weight, count).astype(np.float64),
                        minlength=len(unique))
    return unique >> 32, unique & _LOW, np.rint(total).astype(np.int64)


def top(rows: np.ndarray, members: np.ndarray, share: np.ndarray, tie: np.ndarray, n: int,
        m: int) -> np.ndarray:
    """``int64 (n, m)``: each row's ``m`` members of highest share (equal shares: the smaller
    ``tie``), ``-1`` past the row's members."""
    out = np.full((n, m), -1, dtype=np.int64)
    if not len(rows) or not m:
        return out
    order = np.lexsort((tie, -share, rows))
    rows, members = rows[order], members[order]
    first = np.searchsorted(rows, rows)
    rank = np.arange(len(rows)) - first
    keep = rank < m
    out[rows[keep], rank[keep]] = members[keep]
    return out


def heads(slots: np.ndarray, mine: AnchorSide, other: AnchorSide, cap: int, m: int,
          allowed: np.ndarray | None = None) -> np.ndarray:
    """The shared-anchor candidates of the owners of ``slots``: ``int64 (n, m)``, ``-1``
    past the end; ``allowed`` (a bool per node of the other graph) limits the members."""
    rows, members, share = shares(slots, mine, other, cap)
    if allowed is not None:
        keep = allowed[members]
        rows, members, share = rows[keep], members[keep], share[keep]
    return top(rows, members, share, other.tie(members), len(slots), m)


def tie_keys(keys: list[str]) -> np.ndarray:
    """``int64`` hash of each key that orders equal shares (stable across runs and orders)."""
    from stream_align.model.sampling import key_hashes  # numpy only; kept out of import time

    return key_hashes(keys, TIE_SALT).view(np.int64)


def table_side(slots: np.ndarray, anchors: np.ndarray, other_anchors: np.ndarray,
               n_anchors: int, keys: list[str]) -> AnchorSide:
    """:class:`AnchorSide` of a whole graph held as tables (the batch aligner): ``slots`` every
    node's sampled neighbours (``-1`` padded), ``anchors`` each node's anchor id
    (``n_anchors``: none) and ``other_anchors`` the other graph's."""
    n, k = slots.shape
    flat = slots.ravel().astype(np.int64)
    pairs = setops.unique((flat << 32 | np.repeat(np.arange(n, dtype=np.int64), k))[flat >= 0])
    sampled, sampler = pairs >> 32, pairs & _LOW
    fan = np.bincount(sampled, minlength=n)
    partner_of = np.full(n_anchors + 1, -1, dtype=np.int64)
    has = np.flatnonzero(other_anchors < n_anchors)
    partner_of[other_anchors[has]] = has
    ties = tie_keys(keys)

    def samplers(nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = np.searchsorted(sampled, nodes), np.searchsorted(sampled, nodes, side="right")
        count = hi - lo
        at = np.repeat(lo - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
        return np.repeat(np.arange(len(nodes)), count), sampler[at]

    return AnchorSide(partner=lambda nodes: partner_of[anchors[nodes]],
                      fan=lambda nodes: fan[nodes], samplers=samplers,
                      tie=lambda nodes: ties[nodes])
