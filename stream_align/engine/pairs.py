"""The scores stage: the scored pairs, kept equal to a batch computation's after every batch.

The pair set is the batch aligner's: ``(a, b)`` when ``b`` is in ``a``'s top-k or ``a`` in
``b``'s (both directions, see ``candidate_lists``) or in either's shared-anchor candidates
(``anchor_heads``), plus MATCH-labelled pairs (every one,
governing or dormant — ``labels`` — so the set is a function of the label table and a restore's
``rebuild`` finds the same pairs), minus NON_MATCH ones. A pair's score can change only if one
of its entities was recomputed; only those are re-scored (cross-graph attention, ``scoring``).
With ``vector_tolerance`` an entity recomputed to within it of its indexed vector keeps that
vector, and its pairs keep their scores (decision 0073): the book then equals a batch
computation's only at tolerance 0.
The candidates stage before it (``candidate_lists``) says which pairs entered or left the lists.

A pair one of whose entities waits in the recompute queue (``queue``) is not re-scored yet but
*owed*: that entity's recompute re-scores it anyway, and until then its vector is the previous
graph's, so the score would be thrown away. A bulk load's drain recomputes the entities of
most pairs one after the other, and scoring each pair at its first entity's recompute and
again at its second's was most of the drain's pair scores (decision 0054). Owed pairs are
re-scored by the refresh after their last waiting entity is recomputed; at quiescence (nothing
queued) nothing is owed, so the book equals a batch computation's as before. Labelled pairs
are never owed (a label's decision reads its score at once).
"""

from __future__ import annotations

import time

import numpy as np

from stream_align import heap, setops
from stream_align.engine import packed, pair_order
from stream_align.engine.anchor_heads import AnchorHeads
from stream_align.engine.candidate_lists import NodePair, Sets, Touched
from stream_align.engine.decisions import Decider, PairBook
from stream_align.engine.pair_features import FeatureCache
from stream_align.engine.progress import Progress
from stream_align.engine.scoring import GROUP_ENTITIES, GROUP_PAIRS, score_pairs
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import Side
from stream_align.model.bundle import ModelBundle

CHUNK_PAIRS = 1 << 19
"""Touched pairs checked and re-scored at a time: a bulk refresh touches every candidate pair,
and the tuples, flags and scores of all of them at once were a transient of ≈ 7 pairs an
entity (decision 0039); now they are arrays, a few dozen bytes a pair. As long as the
scoring's longest group (``scoring.GROUP_PAIRS``), so a chunk costs no extra group: a group
builds its entities' pair-head views once, and shorter chunks built most right entities' views
again in each (decision 0061; the pairs go in ``pair_order``'s band order, decision 0096)."""


class PairScores:
    """Owns the scores in the :class:`PairBook`; reads the candidate lists of both sides."""

    def __init__(self, bundle: ModelBundle, settings: EngineSettings, sides: tuple[Side, Side],
                 book: PairBook, decider: Decider, progress: Progress,
                 anchors: AnchorHeads | None = None) -> None:
        self.bundle, self.settings, self.sides = bundle, settings, sides
        self.book, self.decider, self.progress = book, decider, progress
        self.anchors = anchors
        self.features = FeatureCache(settings.pair_feature_cache)
        """The pair head's own features of scored pairs (``pair_features``)."""
        self.owed = _NONE
        """Packed pairs not re-scored because an entity of theirs waits in the queue (sorted)."""

    def _wanted(self, lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
        """Which pairs ``(lefts[i], rights[i])`` belong in the book: both entities indexed,
        one a candidate of the other or the pair MATCH-labelled, not NON_MATCH-labelled (as
        arrays: a Python test per pair was a tenth of a small batch)."""
        a, b = self.sides
        indexed = (a.faiss_ids(lefts) >= 0) & (b.faiss_ids(rights) >= 0)
        listed = a.lists.holds(lefts, rights) | b.lists.holds(rights, lefts)
        if self.anchors is not None:
            listed |= self.anchors.holds(0, lefts, rights) | self.anchors.holds(1, rights, lefts)
        if not self.decider.labels:
            return indexed & listed
        by_node = self.decider.label_nodes()  # both nodes exist: a label of the pair has them
        keys = packed.join(lefts, rights)
        match, non = setops.isin(keys, by_node.matched), setops.isin(keys, by_node.refused)
        return indexed & ~non & (listed | match)

    def _related(self, computed: Sets, removed: Sets, labelled: list[tuple[str, str]]
                 ) -> Touched:
        """Scored pairs of changed entities, and labelled pairs whose entities exist."""
        ga, gb = self.sides[0].graph, self.sides[1].graph
        labels = self.decider.label_book
        out: set[NodePair] = set()
        for a in computed[0] | removed[0]:
            out.update((a, gb.index[b]) for _, b in labels.match_pairs(0, ga.keys[a])
                       if b in gb.index)
        for b in computed[1] | removed[1]:
            out.update((ga.index[a], b) for a, _ in labels.match_pairs(1, gb.keys[b])
                       if a in ga.index)
        out.update((ga.index[a], gb.index[b]) for a, b in labelled
                   if a in ga.index and b in gb.index)
        return setops.union1d(_packed(out),
                              self.book.pairs_of(_sorted(computed[0] | removed[0]),
                                                 _sorted(computed[1] | removed[1])))

    def update(self, touched: Touched, computed: Sets, removed: Sets,
               labelled: list[tuple[str, str]], stats: dict[str, float],
               waiting: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Re-score after the candidates stage: ``touched`` pairs entered or left candidate
        lists, ``computed`` entities have new vectors, ``waiting`` ones (sorted, per side) are
        queued for recompute (their pairs are owed, not scored). Return every pair whose score
        changed, that was dropped, or that was labelled (of entities the mirrors have), packed
        ``left << 32 | right``, sorted and distinct (node ids: a bulk refresh changes every
        pair, and their key tuples were ≈ 1 KB an entity, decision 0047). The caller hands
        ``touched`` over, holding no reference of its own (``AlignmentEngine._refresh``)."""
        labels = self.book.pack(labelled)
        waiting = waiting or (_NONE, _NONE)
        due, kept = self._owed(waiting, labels)
        every = setops.union1d(setops.union1d(touched, self._related(computed, removed,
                                                                     labelled)), due)
        stats["pairs_checked"] = float(len(every))
        del touched  # handed over by the caller: let go with the pairs checked
        built, hits = sum(side.views.built for side in self.sides), self.features.hits
        moved = _sorted(computed[0]), _sorted(computed[1])
        changed, owed, scored = self._checked(every, moved, due, waiting, labels)
        del every  # the pairs checked: not held beside the scoring's groups
        changed.append(labels)
        owed.append(kept)
        stats["pairs_scored"] = float(sum(len(part) for part in scored))
        started = time.perf_counter()  # scored after every check: chunks of dropped and kept
        changed += self._score_all(scored)  # pairs would cut the scoring's groups short
        stats["score_s"] = time.perf_counter() - started
        self.owed = setops.unique(np.concatenate(owed))
        stats["pairs_owed"] = float(len(self.owed))
        stats["views_built"] = float(sum(side.views.built for side in self.sides) - built)
        stats["views_held"] = float(sum(side.views.held for side in self.sides))
        stats["views_mb"] = sum(side.views.nbytes() for side in self.sides) / 2**20
        stats["features_kept"] = float(self.features.hits - hits)
        return setops.unique_of(changed)

    def _checked(self, every: np.ndarray, moved: tuple[np.ndarray, np.ndarray],
                 due: np.ndarray, waiting: tuple[np.ndarray, np.ndarray], labels: np.ndarray
                 ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """Check the pairs ``every`` :data:`CHUNK_PAIRS` at a time: drop from the book those
        no longer wanted; return the dropped ones, the owed ones and those to re-score, each
        a list of copies. No chunk's view of ``every`` outlives the check (a loop's last
        ``keys`` kept all of it alive through the scoring's groups, decision 0126)."""
        changed, owed, scored = [], [], [_NONE]
        for start in range(0, len(every), CHUNK_PAIRS):
            keys = every[start:start + CHUNK_PAIRS]
            lefts, rights = packed.split(keys)
            known = ~np.isnan(self.book.node_scores(lefts, rights))  # one lookup a chunk
            wanted = self._wanted(lefts, rights)
            self.book.drop_nodes(lefts[known & ~wanted], rights[known & ~wanted])
            changed.append(keys[known & ~wanted])
            rescore = wanted & (setops.isin(lefts, moved[0]) | setops.isin(rights, moved[1])
                                | ~known | setops.isin(keys, due))
            later = rescore & _waits(keys, waiting, labels)
            owed.append(keys[later])
            rescore &= ~later
            scored.append(keys[rescore])
        return changed, owed, scored

    def _owed(self, waiting: tuple[np.ndarray, np.ndarray], labels: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """The owed pairs due now (no entity waits any more, or labelled) and those still owed:
        only the due ones are checked and scored — carrying every owed pair through each
        refresh cost a pass over ≈ 1.5M pairs a drain call at 200K a side."""
        still = _waits(self.owed, waiting, labels)
        return self.owed[~still], self.owed[still]

    def _score_all(self, parts: list[np.ndarray]) -> list[np.ndarray]:
        """Score the packed pairs ``parts`` (ascending, part after part) into the book,
        :data:`CHUNK_PAIRS` at a time; more than one scoring group's worth in the band order
        (``pair_order``: each entity's views and rows built in fewer groups); return those
        whose score moved, packed, a part a chunk. ``parts`` is emptied: only the ordered
        copy is held while the groups are scored (at a bulk refresh every pair of the book is
        here, and each copy of them grows with the graphs, decision 0121), and let go before
        the caller joins the parts (decision 0138)."""
        keys = np.concatenate(parts or [_NONE])
        parts.clear()
        keys = pair_order.for_groups(keys, GROUP_PAIRS, GROUP_ENTITIES)
        found = [_NONE]
        for start in range(0, len(keys), CHUNK_PAIRS):
            found.append(self._score(*packed.split(keys[start:start + CHUNK_PAIRS])))
        heap.give_back_pass_pages()  # what the groups' passes left in the heap, before the join
        return found

    def _score(self, lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
        """Score the pairs ``(lefts[i], rights[i])`` into the book; return those whose score
        moved, packed."""
        nodes = np.stack([lefts, rights], axis=1)
        scores, _ = score_pairs(self.bundle, self.sides, nodes, self.settings.recompute_chunk,
                                progress=self.progress, cache=self.features)
        values = scores.astype(np.float64)  # the book's own type: compared as it will hold them
        at = np.flatnonzero(self.book.node_scores(lefts, rights) != values)  # NaN: not scored
        self.book.set_nodes(lefts[at], rights[at], values[at])
        return packed.join(lefts[at], rights[at])

    def rebuild(self, touched: Touched) -> None:
        """Every pair score, after the lists were rebuilt (``touched``: every candidate
        pair) — a restore."""
        ga, gb = self.sides[0].graph, self.sides[1].graph
        labelled = _packed({(ga.index[a], gb.index[b])
                            for a, b in self.decider.label_book.all_match_pairs()
                            if a in ga.index and b in gb.index})
        every = setops.union1d(touched, labelled)
        wanted = [keys[self._wanted(*packed.split(keys))]
                  for keys in (every[start:start + CHUNK_PAIRS]
                               for start in range(0, len(every), CHUNK_PAIRS))]
        self._score_all(wanted)


_NONE = np.zeros(0, dtype=np.int64)


def _waits(keys: np.ndarray, waiting: tuple[np.ndarray, np.ndarray], labels: np.ndarray
           ) -> np.ndarray:
    """Which packed pairs ``keys`` are owed: an entity of theirs is ``waiting`` in the queue
    and the pair is not among the ``labels`` (a label's decision reads its score at once)."""
    lefts, rights = packed.split(keys)
    return ((setops.isin(lefts, waiting[0]) | setops.isin(rights, waiting[1]))
            & ~setops.isin(keys, labels))


def _sorted(nodes: set[int]) -> np.ndarray:
    return np.array(sorted(nodes), dtype=np.int64)


def _packed(pairs: set[NodePair]) -> Touched:
    """``left << 32 | right`` of each pair, sorted."""
    if not pairs:
        return np.zeros(0, dtype=np.int64)
    nodes = np.array(sorted(pairs), dtype=np.int64)
    return packed.join(nodes[:, 0], nodes[:, 1])
