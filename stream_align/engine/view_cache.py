"""The pair head's view rows per entity, built once and kept until the entity is affected.

A refresh re-scores every pair of a recomputed entity, and the other entity of most of those
pairs did not change — yet each scoring group built every entity's view again: its own and its
sampled neighbours' name rows stacked and summed, the anchor sets one and two hops away, the
word and number sets of its name (decision 0047's profile: 13 % of a 100-insert batch). A view
row reads the entity's name, its sample, and its sampled neighbours' names and samples
(``scoring.side_view`` sums the neighbours' names in node order, so nothing else). Each of
those changes only for nodes of the affected set ``D = H ∪ R(H)`` of ``affected`` (``F``: a
name; ``M``: a sample; ``R(F)``, ``R(M)``: a neighbour's), so ``stages.find_affected`` drops the
rows of ``D`` and of the deleted nodes, and a row is built again when a pair of its entity is
next scored. A row is the same bytes whether built now or kept (``test_view_cache.py``), so the
scores are too.

Each row's seven CSR rows (:class:`PairView`'s five blocks, its words and numbers) are one
entity's parts in a :class:`PartRows` (28 bytes a node of the graph for their lengths, 8 for a
last-use tick). Bounded: past ``capacity`` entities the least recently used are dropped down to
``capacity``; an evicted row is built again when needed. Dropping down to three quarters of it,
as before, left ≈ 14,000 of zh_en's 19,500 rows a side held on average, and each overflow threw
away 4,096 rows the next batches read back: 48 views built an insert at batches of 10 against 11
affected, 32 when dropped to the capacity (decision 0070); the partition costs ≈ 0.3 ms a call
that overflows. Measured bytes per row: docs/BENCHMARKS.md (decision 0051).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp

from stream_align import setops
from stream_align.arrays import grown, lookup
from stream_align.engine.part_rows import PartRows, csr_block
from stream_align.model.pair_head import PairView

PARTS = 7
"""CSR rows per entity: the view's blocks, then its words and its numbers."""
BUILD_ROWS = 8192
"""Entities a bulk view (more missing than the capacity) is built for at a time (a bulk
refresh's scoring group: up to ``scoring.GROUP_ENTITIES`` a side). The builder's transients
— the names of the entities and of their sampled neighbours, their sums, the ``(n, k, k)``
two-hop tables — were built for the whole group at once, the largest allocations live at a
bulk refresh's peak (decision 0077); a row is a function of its entity alone, so parts
stacked give the same rows."""


def _parts(view: PairView) -> list[sp.csr_matrix]:
    return [*view.blocks, view.words, view.numbers]


def _in_parts(nodes: np.ndarray, build: Callable[[list[int]], PairView]) -> PairView:
    """``build``'s view of ``nodes``, :data:`BUILD_ROWS` of them at a time, stacked."""
    if len(nodes) <= BUILD_ROWS:
        return build(nodes.tolist())
    built = [_parts(build(nodes[lo:lo + BUILD_ROWS].tolist()))
             for lo in range(0, len(nodes), BUILD_ROWS)]
    stacked = []
    for p in range(PARTS):  # each part's pieces dropped once stacked
        stacked.append(sp.vstack([pieces[p] for pieces in built], format="csr"))
        for pieces in built:
            pieces[p] = None
    return PairView(blocks=stacked[:-2], words=stacked[-2], numbers=stacked[-1])


class ViewCache:
    """``node → its pair-head view row`` of one graph, valid until :meth:`forget`."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows = PartRows(PARTS, capacity)
        self._dims: list[int] = []  # columns of each part (set by the first build)
        self.built = 0  # rows built, a running count (hits are the rest)
        self._own = np.zeros(0, dtype=np.int64)  # node → version of its rows' own parts

    def own_versions(self, nodes: np.ndarray) -> np.ndarray:
        """A version of each node's *own* view parts — all but the two-hop anchors, which
        read the sampled neighbours' samples — that changes whenever they can
        (``pair_features`` keeps a pair's features while both versions stay)."""
        return lookup(self._own, nodes, 0)

    @property
    def held(self) -> int:
        """Entities whose rows are held."""
        return self._rows.held

    def forget(self, nodes: Iterable[int], own: Iterable[int] = ()) -> None:
        """Drop the rows of ``nodes`` (their name, sample or neighbourhood changed); ``own``
        (among them): those whose own parts can differ (:meth:`own_versions`)."""
        self._rows.drop(self._rows.holding(setops.unique(np.fromiter(nodes, dtype=np.int64))))
        moved = setops.unique(np.fromiter(own, dtype=np.int64))
        if len(moved):
            self._own = grown(self._own, int(moved[-1]) + 1, 0)
            self._own[moved] += 1

    def view(self, nodes: np.ndarray, build: Callable[[list[int]], PairView]) -> PairView:
        """The view of distinct ``nodes``: kept rows read back, the others ``build``-t (a
        list of nodes → their view) and kept. More missing than the capacity (a bulk
        refresh) is built whole, and only its last ``capacity`` rows are kept
        (:meth:`_keep_last`): keeping all would only evict most again, and its rows would set
        the pool's size (the pool does not shrink)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if len(nodes) - len(self._rows.holding(nodes)) > self.capacity:
            self.built += len(nodes)
            whole = _in_parts(nodes, build)
            self._keep_last(nodes, whole)
            return whole
        if len(nodes):
            self._rows.fit(int(nodes.max()) + 1)
        missing = nodes[self._rows.missing(nodes)]
        if len(missing):
            self._keep(missing, build(missing.tolist()))
            self.built += len(missing)
        self._rows.touch(nodes)
        parts = self._rows.csrs(nodes, self._dims, len(nodes))
        self._rows.evict()
        return PairView(blocks=parts[:-2], words=parts[-2], numbers=parts[-1])

    def _keep_last(self, nodes: np.ndarray, view: PairView) -> None:
        """Keep the last ``capacity`` rows of a bulk refresh's whole ``view`` of ``nodes``
        (the rows ``nodes`` held before are dropped first, so the pool does not hold both;
        others held are the least recently used then: evicted first): the small batches after
        a bulk load start with a full cache instead of building ≈ 145 views an insert for
        their first hundred inserts on DBP15K zh_en (decision 0082). The rows are the same
        bytes as ones built later, and the pool holds what a full cache holds anyway. They
        are kept :data:`BUILD_ROWS` at a time: each keep copies its rows three times (the
        slices, their ``(column, bits)`` pairs, the pool's gather), beside the whole view at a
        bulk refresh's peak — all ``capacity`` rows at once were ≈ 3 × 50 MB at 40K a side
        (decision 0103). The pool's room is made for all of them first, as one keep made it:
        grown for each part, it held ≈ 35 MB more after a 40K load."""
        if not self.capacity:
            return
        self._rows.drop(self._rows.holding(nodes))
        kept = nodes[-self.capacity:]
        self._rows.fit(int(nodes.max()) + 1)
        first = len(nodes) - len(kept)
        self._rows.reserve(sum(int(m.indptr[len(nodes)] - m.indptr[first]) for m in _parts(view)))
        for lo in range(first, len(nodes), BUILD_ROWS):
            rows = slice(lo, min(lo + BUILD_ROWS, len(nodes)))
            self._keep(nodes[rows], PairView(blocks=[m[rows] for m in view.blocks],
                                             words=view.words[rows], numbers=view.numbers[rows]))
        self._rows.touch(kept)
        self._rows.evict()

    def _keep(self, nodes: np.ndarray, view: PairView) -> None:
        """Hold each row of ``view`` (row ``i``: ``nodes[i]``)."""
        parts = _parts(view)
        if any(m.dtype != np.float32 for m in parts):  # kept as float32 bits
            raise TypeError(f"pair view parts of {[m.dtype for m in parts]}, not float32")
        self._dims = [m.shape[1] for m in parts]
        self._rows.keep(nodes, [csr_block(m) for m in parts])

    def nbytes(self) -> int:
        """Bytes held: the pool (with garbage and free room) and the node-indexed tables."""
        return self._rows.nbytes()
