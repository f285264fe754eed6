"""Both sides' candidate lists, kept equal to a fresh exact search's after every batch.

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

Equal scores at a list's boundary (duplicate entities) may be split differently than a fresh
search splits them; everything else equals the batch aligner's candidates.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from stream_align.engine import ivf_lists
from stream_align.engine.exact_topk import (
    InnerProducts,
    TopR,
    best_first,
    rows_within,
    top_both_ways,
)
from stream_align.engine.progress import Progress, chunks
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import Side

NodePair = tuple[int, int]
Hit = tuple[float, int]  # (retrieval score, node of the other graph)
Sets = tuple[set[int], set[int]]
Fresh = dict[int, dict[int, float | None]]  # list owner → member → new score (None: gone)
_NONE = float("-inf")
_SCAN_ROWS = 512
"""Changed vectors scored per matrix product at most: ``_SCAN_ROWS × n`` floats at a time,
fewer where that passes ``exact_topk.SCAN_BYTES`` (``rows_within``)."""
_ASSIGN_ROWS = 8192
"""Lists set per slice of a rebuild."""


class CandidateLists:
    """Maintains ``Side.lists``/``cands`` of both sides; reports the pairs that may change."""

    def __init__(self, settings: EngineSettings, sides: tuple[Side, Side],
                 progress: Progress) -> None:
        self.settings, self.sides, self.progress = settings, sides, progress
        self.depth = settings.top_k + settings.candidate_reserve
        self.trained: np.ndarray | None = None  # a quantiser trained since the last take

    @property
    def ivf(self) -> bool:
        """Whether lists are IVF searches (the quantiser is trained and in use)."""
        return self.sides[0].ivf

    def use_quantiser(self, centroids: np.ndarray | None) -> None:
        """Put both sides' vectors into the cells of a stored quantiser (restore)."""
        if centroids is not None and self.settings.candidate_index == "ivf":
            for side in self.sides:
                side.use_ivf(centroids, self.settings.ivf_probe)

    def take_trained(self) -> np.ndarray | None:
        """The quantiser trained since the last call (to store), or None."""
        trained, self.trained = self.trained, None
        return trained

    def _train_due(self) -> bool:
        """IVF mode, no quantiser yet, and enough vectors to train one."""
        indexed = len(self.sides[0].fid) + len(self.sides[1].fid)
        return (self.settings.candidate_index == "ivf" and not self.ivf
                and indexed >= self.settings.ivf_train_min)

    def rebuilds(self, changed: int) -> bool:
        """Whether an update with ``changed`` recomputed vectors rebuilds every list."""
        indexed = len(self.sides[0].fid) + len(self.sides[1].fid)
        return self._train_due() or bool(changed and
                                          changed >= self.settings.rebuild_share * indexed)

    def update(self, computed: Sets, removed: Sets) -> tuple[set[NodePair], int]:
        """Repair every list; return the pairs whose candidate membership may have changed and
        how many lists were searched."""
        if self.rebuilds(len(computed[0]) + len(computed[1])):
            return self.rebuild(), len(self.sides[0].fid) + len(self.sides[1].fid)
        own: tuple[dict[int, list[Hit]], dict[int, list[Hit]]] = ({}, {})
        fresh: tuple[Fresh, Fresh] = ({}, {})
        for s in (0, 1):
            if self.ivf:
                mine, other = self.sides[s], self.sides[1 - s]
                nodes = sorted(n for n in computed[s] if n in mine.fid)
                own[s].update(ivf_lists.search_own(mine, other, nodes, self.depth))
                ivf_lists.scan(mine, other, nodes, computed[1 - s], fresh[1 - s])
            else:
                self._scan(s, computed[s], computed[1 - s], own[s], fresh[1 - s])
        touched, searched = set(), 0
        for s in (0, 1):
            self._gone(s, removed[1 - s], computed[s], fresh[s])
            pairs, n = self._repair(s, own[s], fresh[s])
            touched |= pairs
            searched += n
        return touched, searched

    def rebuild(self) -> set[NodePair]:
        """Every list from one exact pass (restore, bulk batches); return the pairs that
        entered or left candidates (on restore: every candidate pair)."""
        if self._train_due():
            self.trained = ivf_lists.train(self.sides, self.settings.ivf_cells,
                                           self.settings.ivf_probe)
        a, b = self.sides
        if self.ivf:
            return (self._assign(0, ivf_lists.search_own(a, b, sorted(a.fid), self.depth,
                                                         self.progress))
                    | self._assign(1, ivf_lists.search_own(b, a, sorted(b.fid), self.depth,
                                                           self.progress)))
        if a.index is None or b.index is None or not len(a.index) or not len(b.index):
            return (self._assign(0, {x: [] for x in a.fid})
                    | self._assign(1, {y: [] for y in b.fid}))
        ids_a, va = a.index.rows()
        ids_b, vb = b.index.rows()
        nodes_a, nodes_b = a.node_of(ids_a), b.node_of(ids_b)
        to_b, to_a = top_both_ways(va, vb, self.depth, self.depth, progress=self.progress)
        return (self._assign_top(0, nodes_a, to_b, nodes_b)
                | self._assign_top(1, nodes_b, to_a, nodes_a))

    def _assign_top(self, s: int, nodes: np.ndarray, top: TopR, others: np.ndarray
                    ) -> set[NodePair]:
        """:meth:`_assign` of a whole side's top-R, a slice at a time (the hits of every
        entity at once were ≈ 2 KB an entity of transient Python tuples)."""
        out: set[NodePair] = set()
        for lo in range(0, len(nodes), _ASSIGN_ROWS):
            part = TopR(top.index[lo:lo + _ASSIGN_ROWS], top.score[lo:lo + _ASSIGN_ROWS])
            out |= self._assign(s, _hits(nodes[lo:lo + _ASSIGN_ROWS], part, others))
        return out

    def _scan(self, s: int, nodes: Iterable[int], skip: set[int], own: dict[int, list[Hit]],
              fresh: Fresh) -> None:
        """Score side ``s``'s changed vectors against all of the other side: their own top-R
        lists, and for the other side's lists (not rebuilt anyway: ``skip``) the new score of
        each changed vector they hold or now admit (one that reaches their bound)."""
        mine, other = self.sides[s], self.sides[1 - s]
        nodes = sorted(n for n in nodes if n in mine.fid)
        if not nodes or other.index is None or not len(other.index):
            own.update((n, []) for n in nodes)
            return
        ids, base = other.index.rows()
        owners = other.node_of(ids)
        rebuilt = np.isin(owners, np.fromiter(skip, dtype=np.int64, count=len(skip)))
        bound = np.where(rebuilt, np.inf, other.bounds(owners))
        column = np.full(int(owners.max()) + 1, -1, dtype=np.int64)  # node → column, if kept
        column[owners[~rebuilt]] = np.flatnonzero(~rebuilt)
        depth = min(self.depth, len(ids))
        product = InnerProducts(base, len(nodes))
        step = rows_within(len(ids), _SCAN_ROWS)
        for start in chunks(range(0, len(nodes), step), self.progress, "candidate lists"):
            part = nodes[start:start + step]
            scores = product(mine.vectors(part))
            own.update(_hits(part, TopR(*best_first(scores, depth)), owners))
            rows, cols = np.nonzero(scores >= bound[None, :])
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                fresh.setdefault(int(owners[c]), {})[part[r]] = float(scores[r, c])
            for r, y in enumerate(part):
                for x in other.listed_by.get(y, ()):
                    if x < len(column) and (c := column[x]) >= 0:
                        fresh.setdefault(x, {})[y] = float(scores[r, c])

    def _probe(self, s: int, nodes: Iterable[int], depth: int) -> dict[int, list[Hit]]:
        """Each node's top-``depth`` in the other graph (one FAISS search for all of them)."""
        mine, other = self.sides[s], self.sides[1 - s]
        if self.ivf:
            return ivf_lists.research(mine, other, nodes, depth)
        nodes = sorted(n for n in nodes if n in mine.fid)
        if not nodes:
            return {}
        return dict(zip(nodes, other.search(mine.vectors(nodes), depth), strict=True))

    def _assign(self, s: int, found: dict[int, list[Hit]]) -> set[NodePair]:
        """Lists from search results (the bound: the R-th score, or none if fewer came back)."""
        out: set[NodePair] = set()
        for node, hits in found.items():
            hits = hits[: self.depth]
            bound = hits[-1][0] if len(hits) == self.depth else _NONE
            out |= self._set(s, node, hits, bound)
        return out

    def _set(self, s: int, node: int, hits: list[Hit], bound: float) -> set[NodePair]:
        """Replace a list; return the pairs that entered or left its candidates (a pair that
        stays keeps its score unless an entity changed, and those pairs are re-scored anyway)."""
        mine = self.sides[s]
        old = mine.set_list(node, hits, bound, self.settings.top_k)
        peers = set(old) ^ set(mine.cands.get(node, ()))
        return {(node, y) if s == 0 else (y, node) for y in peers}

    def _repair(self, s: int, own: dict[int, list[Hit]], fresh: Fresh
                ) -> tuple[set[NodePair], int]:
        """Side ``s``: set the rebuilt lists, merge the rest; search what stays unknown."""
        touched = self._assign(s, own)
        research = set()
        for x, scores in fresh.items():
            if x in own:
                continue
            pairs = self._merge(s, x, scores)
            if pairs is None:
                research.add(x)
            else:
                touched |= pairs
        touched |= self._assign(s, self._probe(s, research, self.depth))
        return touched, len(own) + len(research)

    def _gone(self, s: int, removed: set[int], skip: set[int], out: Fresh) -> None:
        """Members of side ``s``'s lists that left the other graph (``None``: drop them)."""
        other = self.sides[1 - s]
        for y in removed:
            if y not in other.fid:
                for x in self.sides[s].listed_by.get(y, ()):
                    if x not in skip:
                        out.setdefault(x, {})[y] = None

    def _merge(self, s: int, x: int, fresh: dict[int, float | None]) -> set[NodePair] | None:
        """``x``'s list with fresh scores merged in, or ``None`` if its top-k is now unknown."""
        mine, k = self.sides[s], self.settings.top_k
        known = {y: score for score, y in mine.lists.get(x, ())}
        known.update(fresh)
        entries = sorted(((score, y) for y, score in known.items() if score is not None),
                         reverse=True)
        bound = mine.bound_of(x)
        if bound != _NONE and sum(1 for score, _ in entries[:k] if score >= bound) < k:
            return None
        if len(entries) > self.depth:
            bound = max(bound, entries[self.depth][0])
            entries = entries[: self.depth]
        return self._set(s, x, entries, bound)


def _hits(nodes: Iterable[int], top: TopR, others: np.ndarray) -> dict[int, list[Hit]]:
    """Per node, its best-first ``(score, other node)`` from a :class:`TopR` over ``others``."""
    return {int(x): list(zip(score.tolist(), others[index].tolist(), strict=True))
            for x, index, score in zip(nodes, top.index, top.score, strict=True)}
