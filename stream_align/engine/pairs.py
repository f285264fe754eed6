"""The scores stage: the scored pairs, kept equal to a batch computation's after every batch.

The pair set is the batch aligner's: ``(a, b)`` when ``b`` is in ``a``'s top-k or ``a`` in
``b``'s (both directions, see ``candidate_lists``), plus MATCH-labelled pairs (every one,
governing or dormant — ``labels`` — so the set is a function of the label table and a restore's
``rebuild`` finds the same pairs), minus NON_MATCH ones. A pair's score can change only if one
of its entities was recomputed; only those are re-scored (cross-graph attention, ``scoring``).
The candidates stage before it (``candidate_lists``) says which pairs entered or left the lists.
"""

from __future__ import annotations

import time

import numpy as np

from stream_align.engine.candidate_lists import NodePair, Sets, Touched
from stream_align.engine.decisions import Decider, PairBook
from stream_align.engine.progress import Progress
from stream_align.engine.scoring import score_pairs
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import Side
from stream_align.events.contracts import LabelValue
from stream_align.model.bundle import ModelBundle

CHUNK_PAIRS = 65_536
"""Touched pairs checked and re-scored at a time (as Python tuples): a bulk refresh touches
every candidate pair, and the tuples, flags and scores of all of them at once were a transient
of ≈ 7 pairs an entity (decision 0039). The scoring groups (``scoring.GROUP_PAIRS``) are as
large, so scoring a chunk at a time costs no extra group."""


class PairScores:
    """Owns the scores in the :class:`PairBook`; reads the candidate lists of both sides."""

    def __init__(self, bundle: ModelBundle, settings: EngineSettings, sides: tuple[Side, Side],
                 book: PairBook, decider: Decider, progress: Progress) -> None:
        self.bundle, self.settings, self.sides = bundle, settings, sides
        self.book, self.decider, self.progress = book, decider, progress

    def _keys(self, pair: NodePair) -> tuple[str, str]:
        return self.sides[0].graph.keys[pair[0]], self.sides[1].graph.keys[pair[1]]

    def _wanted(self, pair: NodePair) -> bool:
        a, b = pair
        label = self.decider.labels.get(self._keys(pair))
        if label is LabelValue.NON_MATCH or not self.sides[0].has_vector(a) or \
                not self.sides[1].has_vector(b):
            return False
        return (b in self.sides[0].cands.get(a, ()) or a in self.sides[1].cands.get(b, ())
                or label is LabelValue.MATCH)

    def _related(self, computed: Sets, removed: Sets, labelled: list[tuple[str, str]]
                 ) -> Touched:
        """Scored pairs of changed entities, and labelled pairs whose entities exist."""
        ga, gb = self.sides[0].graph, self.sides[1].graph
        labels = self.decider.label_book
        out: set[NodePair] = set()
        for a in computed[0] | removed[0]:
            out.update((a, gb.index[b]) for b in self.book.rights.get(ga.keys[a], ()))
            out.update((a, gb.index[b]) for _, b in labels.match_pairs(0, ga.keys[a])
                       if b in gb.index)
        for b in computed[1] | removed[1]:
            out.update((ga.index[a], b) for a in self.book.lefts.get(gb.keys[b], ()))
            out.update((ga.index[a], b) for a, _ in labels.match_pairs(1, gb.keys[b])
                       if a in ga.index)
        out.update((ga.index[a], gb.index[b]) for a, b in labelled
                   if a in ga.index and b in gb.index)
        return _packed(out)

    def update(self, touched: Touched, computed: Sets, removed: Sets,
               labelled: list[tuple[str, str]], stats: dict[str, float]) -> set[tuple[str, str]]:
        """Re-score after the candidates stage: ``touched`` pairs entered or left candidate
        lists, ``computed`` entities have new vectors. Return the keys of every pair whose
        score changed, that was dropped, or that was labelled."""
        every = np.union1d(touched, self._related(computed, removed, labelled))
        changed = set(labelled)
        stats["pairs_scored"] = stats["score_s"] = 0.0
        for start in range(0, len(every), CHUNK_PAIRS):
            ordered = _pairs(every[start:start + CHUNK_PAIRS])
            rescore = []
            scored = (~np.isnan(self.book.node_scores(ordered))).tolist()  # one lookup a chunk
            for pair, known in zip(ordered, scored, strict=True):
                if not self._wanted(pair):
                    if known:
                        keys = self._keys(pair)
                        self.book.drop(*keys)
                        changed.add(keys)
                elif pair[0] in computed[0] or pair[1] in computed[1] or not known:
                    rescore.append(pair)
            started = time.perf_counter()
            changed |= self._score(rescore)
            stats["pairs_scored"] += len(rescore)
            stats["score_s"] += time.perf_counter() - started
        return changed

    def _score(self, pairs: list[NodePair]) -> set[tuple[str, str]]:
        """Score ``pairs`` into the book; return the keys of those whose score moved."""
        scores, _ = score_pairs(self.bundle, self.sides, pairs, self.settings.recompute_chunk,
                                progress=self.progress)
        nodes = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        values = scores.astype(np.float64)  # the book's own type: compared as it will hold them
        at = np.flatnonzero(self.book.node_scores(pairs) != values)  # NaN: not scored yet
        self.book.set_nodes(nodes[at, 0], nodes[at, 1], values[at])
        return {self._keys(pair) for pair in nodes[at].tolist()}

    def rebuild(self, touched: Touched) -> None:
        """Every pair score, after the lists were rebuilt (``touched``: every candidate
        pair) — a restore."""
        ga, gb = self.sides[0].graph, self.sides[1].graph
        labelled = _packed({(ga.index[a], gb.index[b])
                            for a, b in self.decider.label_book.all_match_pairs()
                            if a in ga.index and b in gb.index})
        every = np.union1d(touched, labelled)
        for start in range(0, len(every), CHUNK_PAIRS):
            self._score([p for p in _pairs(every[start:start + CHUNK_PAIRS]) if self._wanted(p)])


def _packed(pairs: set[NodePair]) -> Touched:
    """``left << 32 | right`` of each pair, sorted."""
    if not pairs:
        return np.zeros(0, dtype=np.int64)
    nodes = np.array(sorted(pairs), dtype=np.int64)
    return nodes[:, 0] << 32 | nodes[:, 1]


def _pairs(keys: Touched) -> list[NodePair]:
    """The ``(left, right)`` tuples of packed pairs."""
    return list(zip((keys >> 32).tolist(), (keys & 0xFFFFFFFF).tolist(), strict=True))
