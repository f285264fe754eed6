"""Candidate lists and scored pairs kept equal to a batch computation's after every batch.

The pair set is the batch aligner's: ``(a, b)`` when ``b`` is in ``a``'s top-k or ``a`` in
``b``'s (both directions), plus MATCH-labelled pairs, minus NON_MATCH ones. After entities'
vectors change (``computed``) or disappear (``removed``), a list can change only for
- the changed entities themselves (their own search),
- entities listing a changed or removed entity (``listed_by``),
- entities a changed vector now beats the k-th entry of: found by searching the changed vector
  ``reverse_depth`` deep in the other graph and comparing with each hit's ``kth`` score (exact
  unless more than ``reverse_depth`` lists gain the same entity in one batch).
A pair's score can change only if one of its entities was recomputed; only those are re-scored.
"""

from __future__ import annotations

from collections.abc import Iterable

from stream_align.engine.decisions import Decider, PairBook
from stream_align.engine.scoring import score_pairs
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import Side
from stream_align.events.contracts import LabelValue
from stream_align.model.bundle import ModelBundle

NodePair = tuple[int, int]
Sets = tuple[set[int], set[int]]


class PairMaintenance:
    """Owns the candidate lists of both sides and the scores in the :class:`PairBook`."""

    def __init__(self, bundle: ModelBundle, settings: EngineSettings, sides: tuple[Side, Side],
                 book: PairBook, decider: Decider) -> None:
        self.bundle, self.settings, self.sides = bundle, settings, sides
        self.book, self.decider = book, decider

    def _keys(self, pair: NodePair) -> tuple[str, str]:
        return self.sides[0].graph.keys[pair[0]], self.sides[1].graph.keys[pair[1]]

    def _wanted(self, pair: NodePair) -> bool:
        a, b = pair
        label = self.decider.labels.get(self._keys(pair))
        if label is LabelValue.NON_MATCH or a not in self.sides[0].fid or \
                b not in self.sides[1].fid:
            return False
        return (b in self.sides[0].cands.get(a, ()) or a in self.sides[1].cands.get(b, ())
                or label is LabelValue.MATCH)

    def _search(self, s: int, nodes: Iterable[int]) -> set[NodePair]:
        """Re-search ``nodes`` of side ``s``; return every pair whose membership may change."""
        mine, other = self.sides[s], self.sides[1 - s]
        nodes = sorted(n for n in nodes if n in mine.fid)
        if not nodes:
            return set()
        found = other.search(mine.vectors(nodes), self.settings.top_k)
        out: set[NodePair] = set()
        for node, hits in zip(nodes, found, strict=True):
            old = mine.set_candidates(node, hits, self.settings.top_k)
            for peer in set(old) | set(mine.cands.get(node, ())):
                out.add((node, peer) if s == 0 else (peer, node))
        return out

    def _research(self, computed: Sets, removed: Sets) -> Sets:
        """Per side, the entities whose candidate list may have changed."""
        out: Sets = (set(computed[0]), set(computed[1]))
        for s in (0, 1):
            mine, other = self.sides[s], self.sides[1 - s]
            for y in computed[1 - s] | removed[1 - s]:
                out[s].update(mine.listed_by.get(y, ()))
            moved = sorted(y for y in computed[1 - s] if y in other.fid)
            if moved and mine.index is not None:
                hits = mine.search(other.vectors(moved), self.settings.reverse_depth)
                out[s].update(x for row in hits for score, x in row
                              if score >= mine.kth.get(x, float("-inf")))
        return out

    def _related(self, computed: Sets, removed: Sets, labelled: list[tuple[str, str]]
                 ) -> set[NodePair]:
        """Scored pairs of changed entities, and labelled pairs whose entities exist."""
        ga, gb = self.sides[0].graph, self.sides[1].graph
        out: set[NodePair] = set()
        for a in computed[0] | removed[0]:
            out.update((a, gb.index[b]) for b in self.book.rights.get(ga.keys[a], ()))
            if (b := self.decider.forced_left.get(ga.keys[a])) is not None and b in gb.index:
                out.add((a, gb.index[b]))
        for b in computed[1] | removed[1]:
            out.update((ga.index[a], b) for a in self.book.lefts.get(gb.keys[b], ()))
            if (a := self.decider.forced_right.get(gb.keys[b])) is not None and a in ga.index:
                out.add((ga.index[a], b))
        out.update((ga.index[a], gb.index[b]) for a, b in labelled
                   if a in ga.index and b in gb.index)
        return out

    def update(self, computed: Sets, removed: Sets, labelled: list[tuple[str, str]],
               stats: dict[str, float]) -> tuple[set[str], set[str]]:
        """Refresh lists and scores; return the left and right keys of every changed pair."""
        research = self._research(computed, removed)
        touched = self._search(0, research[0]) | self._search(1, research[1])
        touched |= self._related(computed, removed, labelled)
        stats["researched"] = float(len(research[0]) + len(research[1]))
        lefts = {a for a, _ in labelled}
        rights = {b for _, b in labelled}
        rescore = []
        for pair in sorted(touched):
            keys = self._keys(pair)
            if not self._wanted(pair):
                if keys in self.book.scores:
                    self.book.drop(*keys)
                    lefts.add(keys[0])
                    rights.add(keys[1])
            elif pair[0] in computed[0] or pair[1] in computed[1] or keys not in self.book.scores:
                rescore.append(pair)
        self._score(rescore, lefts, rights)
        stats["pairs_scored"] = float(len(rescore))
        return lefts, rights

    def _score(self, pairs: list[NodePair], lefts: set[str], rights: set[str]) -> None:
        samples = self.sides[0].samples, self.sides[1].samples
        scores, _ = score_pairs(self.bundle, samples, pairs, self.settings.recompute_chunk)
        for pair, score in zip(pairs, scores.tolist(), strict=True):
            keys = self._keys(pair)
            if self.book.scores.get(keys) != score:
                self.book.set(*keys, score)
                lefts.add(keys[0])
                rights.add(keys[1])

    def rebuild(self) -> None:
        """Every list and pair score from the indexed vectors (restore)."""
        touched = self._search(0, self.sides[0].fid) | self._search(1, self.sides[1].fid)
        forced = {(self.sides[0].graph.index[a], self.sides[1].graph.index[b])
                  for a, b in self.decider.forced_left.items()
                  if a in self.sides[0].graph.index and b in self.sides[1].graph.index}
        self._score(sorted(p for p in touched | forced if self._wanted(p)), set(), set())
