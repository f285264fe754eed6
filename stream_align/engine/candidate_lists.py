"""Both sides' candidate lists, kept equal to a fresh exact search's after every batch.

The search is over the indexed vectors: with ``vector_tolerance`` (decision 0073) a
recomputed vector within it of its indexed version is not indexed and changes no list, so the
lists are exact for vectors each within the tolerance of the batch aligner's.

Each entity lists the best ``R = top_k + reserve`` entities of the other graph with their
scores, and a ``bound`` no unlisted entity's score exceeds; its candidates are the first
``top_k``. After some vectors change (``computed``) or disappear (``removed``):

- each changed vector is scored against every vector of the other graph (one matrix product per
  chunk of changed entities — the cost of a flat FAISS search, which computes the same products
  but returns only the top k): its own list is the top ``R``, and it *enters* every list of the
  other graph whose bound it reaches. Exact: a list gains every entity that may now belong in it
  (the earlier ``reverse_depth``-deep reverse search missed lists when one entity sat in more
  than that many lists — systematically on iTunes–Amazon, where graph B is 11× smaller);
- a list holding a changed member re-scores it (an inner product); a removed member leaves;
- a repaired list still knows its top-k if at least ``top_k`` known scores reach the bound
  (nothing unlisted can beat them); only where members fell below it is the list searched again.

When a batch changed at least ``rebuild_share`` of all vectors (bulk loads), every list is
rebuilt from one exact pass over the score matrix instead (``exact_topk``: both directions from
the same products), which beats repairing that many lists one by one.

With ``csls_k`` (decision 0036) the candidates are each list re-ranked by CSLS
(``stream_align.csls``): after the repair, the lists that were set and every list holding an
entity whose hub score moved (its own list's first ``csls_k`` scores changed) are re-ranked —
reads of their rows and the hub scores, no search.

Equal scores at a list's boundary (duplicate entities) may be split differently than a fresh
search splits them; everything else equals the batch aligner's candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from contextlib import nullcontext

import numpy as np

from stream_align import setops
from stream_align.engine import csls_heads, ivf_lists, list_repair, packed, scan_top
from stream_align.engine.exact_topk import (
    InnerProducts,
    TopR,
    rows_within,
    top_both_ways,
)
from stream_align.engine.list_repair import Found, FreshRows
from stream_align.engine.progress import Progress, chunks
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import Side
from stream_align.engine.side_pair import Both, serial, side_pair
from stream_align.engine.threads import blas_on_one_thread, second_thread
from stream_align.index import IvfVectorIndex, rung

NodePair = tuple[int, int]
Touched = np.ndarray
"""Pairs whose candidate membership may have changed, packed ``left << 32 | right`` (``int64``,
sorted, distinct): a bulk rebuild touches every candidate pair — ≈ 7 an entity — and a Python
set of tuples held them at ≈ 150 bytes a pair (decision 0039)."""
Sets = tuple[Set[int], Set[int]]
_SCAN_ROWS = 512
"""Changed vectors scored per matrix product at most: ``_SCAN_ROWS × n`` floats at a time,
fewer where that passes ``exact_topk.SCAN_BYTES`` (``rows_within``)."""
_ASSIGN_ROWS = 8192
"""Lists set per slice of a rebuild."""


class CandidateLists:
    """Maintains ``Side.lists``/``cands`` of both sides; reports the pairs that may change."""

    def __init__(self, settings: EngineSettings, sides: tuple[Side, Side],
                 progress: Progress, ladder: dict[int, np.ndarray] | None = None) -> None:
        self.settings, self.sides, self.progress = settings, sides, progress
        self.ladder = ladder or {}
        """The model's IVF quantisers by cell count (decision 0080)."""
        self.depth = settings.top_k + settings.candidate_reserve
        self.exact = settings.csls_depth if settings.csls_k else settings.top_k
        """A list's first ``exact`` entries always equal a fresh search's (what the heads read)."""
        self.trained: np.ndarray | None = None  # cells taken up since the last take (to store)
        self.reranked = 0  # CSLS: lists re-ranked (a running count, for the batch stats)
        for side in sides:
            side.lists.csls_k, side.lists.csls_depth = settings.csls_k, settings.csls_depth

    @property
    def ivf(self) -> bool:
        """Whether lists are IVF searches (the quantiser is trained and in use)."""
        return self.sides[0].ivf

    def use_quantiser(self, centroids: np.ndarray | None) -> None:
        """Put both sides' vectors into the cells a store names (restore): the model's rung of
        that many cells (the store's row only says which rung its state is on)."""
        if centroids is None or self.settings.candidate_index != "ivf":
            return
        if (cells := self.ladder.get(len(centroids))) is not None:  # else: rebuilt, on a rung
            ivf_lists.use_rung(self.sides, cells, self.settings.ivf_probe,
                               self.settings.ivf_float16)

    def take_trained(self) -> np.ndarray | None:
        """The cells taken up since the last call (to store: which rung), or None."""
        trained, self.trained = self.trained, None
        return trained

    def _rung_due(self) -> int:
        """IVF mode: the model's rung of cells the lists move to now (every list rebuilt),
        0 for none — the first at ``ivf_train_min`` indexed vectors, then one up at each 4×
        growth of the graphs (``ladder.rung``). A function of the indexed count and the cells
        in use alone: an engine restored from a store moves as the one that wrote it."""
        if self.settings.candidate_index != "ivf":
            return 0
        indexed = self.sides[0].count + self.sides[1].count
        if not self.ivf and indexed < self.settings.ivf_train_min:
            return 0
        cells = rung(self.ladder, indexed, self.settings.ivf_cells)
        index = self.sides[0].index
        return cells if not isinstance(index, IvfVectorIndex) or cells > index.nlist else 0

    def rebuilds(self, changed: int) -> bool:
        """Whether an update with ``changed`` recomputed vectors rebuilds every list."""
        indexed = self.sides[0].count + self.sides[1].count
        return bool(self._rung_due()) or bool(changed and
                                          changed >= self.settings.rebuild_share * indexed)

    def update(self, computed: Sets, removed: Sets) -> tuple[Touched, int]:
        """Repair every list; return the pairs whose candidate membership may have changed and
        how many lists were searched. With a second thread (``threads.second_thread``) and
        flat lists the two sides' searches, repairs and CSLS re-ranks each run at once, BLAS on
        one thread a side: a side's repair reads the other's index and writes its own lists
        alone (decision 0140)."""
        if self.rebuilds(len(computed[0]) + len(computed[1])):
            return self.rebuild(), self.sides[0].count + self.sides[1].count
        threads = 2 if second_thread() and not self.ivf else 1
        one_blas = blas_on_one_thread() if threads > 1 else nullcontext()
        with side_pair(threads, "lists-side-1") as both, one_blas:
            own, fresh = self._search(computed, both)

            def repair(s: int) -> tuple[Touched, int]:  # writes side ``s``'s lists alone
                self._gone(s, removed[1 - s], fresh[s])
                return self._repair(s, Found.concat(own[s]), fresh[s], computed[s])

            done = both(repair)
            heads = self.refresh_heads(both)
        return _union([done[0][0], done[1][0], heads]), done[0][1] + done[1][1]

    def _search(self, computed: Sets, both: Both
                ) -> tuple[tuple[list[Found], list[Found]], tuple[FreshRows, FreshRows]]:
        """Each side's changed vectors searched in the other graph: their own new lists, and
        the fresh rows of the other side's lists. ``both`` may run the sides at once: side
        ``s`` reads the other's index, lists and bounds and writes only ``own[s]`` and
        ``fresh[1 - s]``, so the results do not depend on the threads."""
        own: tuple[list[Found], list[Found]] = ([], [])
        fresh = (FreshRows(), FreshRows())

        def search(s: int) -> None:
            mine, other = self.sides[s], self.sides[1 - s]
            nodes = mine.with_vectors(computed[s])
            if self.ivf:
                own[s].append(ivf_lists.search_own(mine, other, nodes, self.depth))
                ivf_lists.scan(mine, other, nodes, fresh[1 - s])
            else:
                self._scan(s, nodes, own[s], fresh[1 - s])

        both(search)
        return own, fresh

    def rebuild(self) -> Touched:
        """Every list from one exact pass (restore, bulk batches); return the pairs that
        entered or left candidates (on restore: every candidate pair)."""
        return _union([self._rebuild(), self.refresh_heads()])

    def refresh_heads(self, both: Both = serial, moves: bool = True) -> Touched:
        """CSLS: re-rank the lists set since the last call (repairs, drops, a restore's read)
        and every list holding an entity whose hub score moved; return the pairs that entered
        or left candidates (``moves`` False: not looked for — a restore's). Without CSLS the
        heads are the rows' first ``top_k``: nothing. ``both``: the two sides at once (a
        restore, ``side_pair``)."""
        if not self.settings.csls_k:
            return np.zeros(0, dtype=np.int64)
        keys, ranked = csls_heads.refresh((self.sides[0].lists, self.sides[1].lists),
                                          self.exact, self.settings.top_k, both, moves)
        self.reranked += len(ranked[0]) + len(ranked[1])
        return _union([packed.as_pairs(0, keys[0]), packed.as_pairs(1, keys[1])])

    def _rebuild(self) -> Touched:
        if cells := self._rung_due():
            self.trained = ivf_lists.use_rung(self.sides, self.ladder[cells],
                                              self.settings.ivf_probe, self.settings.ivf_float16)
        a, b = self.sides
        if self.ivf:
            return _union([self._searched(0), self._searched(1)])
        if a.index is None or b.index is None or not len(a.index) or not len(b.index):
            return _union([self._set(0, Found.empty(a.indexed(), self.depth)),
                           self._set(1, Found.empty(b.indexed(), self.depth))])
        ids_a, va = a.index.rows()
        ids_b, vb = b.index.rows()
        nodes_a, nodes_b = a.node_of(ids_a), b.node_of(ids_b)
        to_b, to_a = top_both_ways(va, vb, self.depth, self.depth, progress=self.progress)
        return _union([self._assign_top(0, nodes_a, to_b, nodes_b),
                       self._assign_top(1, nodes_b, to_a, nodes_a)])

    def _searched(self, s: int) -> Touched:
        """Side ``s``'s every list searched on IVF cells, each chunk's lists set as it is
        searched (decision 0133)."""
        mine, other = self.sides[s], self.sides[1 - s]
        nodes = mine.indexed()
        mine.reserve_lists(nodes)
        return _union([self._set(s, found) for found in ivf_lists.searched_parts(
            mine, other, nodes, self.depth, self.progress)])

    def _assign_top(self, s: int, nodes: np.ndarray, top: TopR, others: np.ndarray
                    ) -> Touched:
        """Set a whole side's lists from its top-R (a slice at a time: bounded copies)."""
        return _union([self._set(s, Found.searched(nodes[lo:lo + _ASSIGN_ROWS],
                                                   others[top.index[lo:lo + _ASSIGN_ROWS]],
                                                   top.score[lo:lo + _ASSIGN_ROWS], self.depth))
                       for lo in range(0, len(nodes), _ASSIGN_ROWS)])

    def _scan(self, s: int, nodes: np.ndarray, own: list[Found], fresh: FreshRows) -> None:
        """Score side ``s``'s changed vectors against all of the other side: their own top-R
        lists, and for the other side's lists the new score of each changed vector they hold
        or now admit (one that reaches their bound). One matrix product per chunk; the rows
        are picked from it by numpy, none by Python."""
        mine, other = self.sides[s], self.sides[1 - s]
        if not len(nodes) or other.index is None or not len(other.index):
            own.append(Found.empty(nodes, self.depth))
            return
        ids, base = other.index.rows()
        owners = other.node_of(ids)
        bound = other.bounds(owners)
        short = np.isneginf(bound)
        fresh.short(owners[short])
        reach = np.where(short, np.inf, bound)  # a short list is searched, not merged into
        listing, listed = other.listed_by.of(nodes)  # (row of nodes, list owner)
        column = other.positions(listed)
        depth = min(self.depth, len(ids))
        product = InnerProducts(base, len(nodes), other.index.columns())
        step = rows_within(len(ids), _SCAN_ROWS)
        kept = self._kept_columns(s, nodes)
        held: np.ndarray | None = None  # the first chunk's matrix, reused by the next ones
        for start in chunks(range(0, len(nodes), step), self.progress, "candidate lists"):
            part = nodes[start:start + step]
            scores = product(mine.vectors(part.tolist()),
                             None if held is None else held[:len(part)])
            held = scores if held is None else held
            floor = scan_top.floors(scores, kept[start:start + step], depth)
            (index, score), (rows, cols) = scan_top.select(scores, depth, floor, reach)
            own.append(Found.searched(part, owners[index], score, self.depth))
            fresh.add(owners[cols], part[rows], scores[rows, cols])
            here = (listing >= start) & (listing < start + len(part)) & (column >= 0)
            rows = listing[here] - start
            fresh.add(listed[here], part[rows], scores[rows, column[here]])

    def _kept_columns(self, s: int, nodes: np.ndarray) -> np.ndarray:
        """The columns of the flat scan (rows of the other side's index) of the members that
        ``nodes``' lists hold before this update (``-1``: none): their new scores bound each
        changed entity's new list from below (``scan_top``)."""
        members = self.sides[s].lists.rows(nodes)[0]
        out = np.full(members.shape, -1, dtype=np.int64)
        listed = members >= 0
        out[listed] = self.sides[1 - s].positions(members[listed])
        return out

    def _probe(self, s: int, nodes: np.ndarray, depth: int) -> Found:
        """Each node's top-``depth`` in the other graph (one FAISS search for all of them)."""
        mine, other = self.sides[s], self.sides[1 - s]
        nodes = mine.with_vectors(nodes)
        if not len(nodes):
            return Found.empty(nodes, depth)
        if self.ivf:
            return ivf_lists.research(mine, other, nodes, depth)
        found, scores = other.search(mine.vectors(nodes.tolist()), depth)
        return Found.searched(nodes, found, scores, depth)

    def _set(self, s: int, found: Found) -> Touched:
        """Replace lists; return the pairs that entered or left their candidates (a pair that
        stays keeps its score unless an entity changed, and those pairs are re-scored anyway)."""
        return packed.as_pairs(s, self.sides[s].set_lists(found, self.settings.top_k))

    def _repair(self, s: int, own: Found, fresh: FreshRows, computed: Set[int]
                ) -> tuple[Touched, int]:
        """Side ``s``: set the rebuilt lists, merge fresh rows into the rest (not the
        ``computed`` owners': searched anyway), search what stays unknown and the short lists
        changed vectors reach."""
        touched = [self._set(s, own)]
        skip = np.fromiter(computed, dtype=np.int64, count=len(computed))
        short = setops.setdiff1d(fresh.short_owners(), skip)
        merged, unknown = list_repair.merge(self.sides[s].lists, self.sides[s].bounds, fresh,
                                            setops.union1d(skip, short), self.depth, self.exact)
        touched.append(self._set(s, merged))
        unknown = setops.union1d(unknown, short)
        touched.append(self._set(s, self._probe(s, unknown, self.depth)))
        return _union(touched), len(own.owners) + len(unknown)

    def _gone(self, s: int, removed: Set[int], out: FreshRows) -> None:
        """Members of side ``s``'s lists that left the other graph (``NaN``: drop them)."""
        other = self.sides[1 - s]
        gone = _sorted(y for y in removed if not other.has_vector(y))
        if len(gone):
            at, owners = self.sides[s].listed_by.of(gone)
            out.add(owners, gone[at], np.full(len(at), np.nan))


def _sorted(nodes: Iterable[int]) -> np.ndarray:
    return np.array(sorted(nodes), dtype=np.int64)


def _union(parts: list[Touched]) -> Touched:
    """The distinct packed pairs of ``parts``, sorted."""
    return setops.unique(np.concatenate(parts)) if parts else np.zeros(0, dtype=np.int64)
