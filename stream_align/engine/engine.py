"""The incremental alignment engine: one call per micro-batch, one state delta out.

``process`` is a pipeline of stages (``stages`` lists them with what each owns): *apply* the
batch's changes and labels, find the *affected* embeddings, *recompute* exactly those (within
the work bound, ``queue``) and update both FAISS indexes, refresh the *candidate* lists that can
change (both directions) and re-*score* the pairs that can change with cross-graph attention
(``pairs``), repair the one-to-one matching (*decisions*) and number the *events*. It writes no
store: everything the store must keep comes back as one ``StateDelta`` (``delta``) that the
caller writes into the transaction carrying the batch's offsets and outbox, so state, offsets
and events commit together. The in-memory state is only valid if that commit succeeds — after a
failed commit, rebuild the engine with :meth:`AlignmentEngine.restore`, which reads the store
through ``state_source.StateSource``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from stream_align import setops
from stream_align.engine import candidate_state, ivf_lists, packed
from stream_align.engine.anchor_heads import AnchorHeads
from stream_align.engine.apply import apply_changes, apply_labels
from stream_align.engine.candidate_lists import CandidateLists
from stream_align.engine.decisions import Change, Decider, PairBook
from stream_align.engine.delta import (
    NeighbourhoodMatch,
    NeighbourhoodRelations,
    Retracted,
    StateDelta,
)
from stream_align.engine.errors import Rejection
from stream_align.engine.event_rows import EventRows
from stream_align.engine.events import EventIds, build_events
from stream_align.engine.held import HeldWork
from stream_align.engine.mutable_graph import MutableGraph, mirror_from
from stream_align.engine.neighbourhood import Fanout, typical, typicals
from stream_align.engine.neighbourhood_stage import NeighbourhoodStage
from stream_align.engine.pairs import PairScores
from stream_align.engine.progress import Progress, no_progress
from stream_align.engine.queue import DeferredQueue
from stream_align.engine.restore import queue_missing, restore_side, warm_side, warm_views
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import FaissIds, Side
from stream_align.engine.side_pair import Both, side_pair
from stream_align.engine.stages import Recompute, decide, find_affected
from stream_align.engine.state_source import StateSource
from stream_align.engine.threads import beside, second_thread, second_threads, threads_for
from stream_align.events.contracts import (
    AlignmentEvent,
    Evidence,
    Label,
    LabelValue,
    TripleChange,
)
from stream_align.model.bundle import ModelBundle


@dataclass
class Outcome:
    """What one batch produced: the service writes ``delta`` into the batch's transaction,
    dead-letters ``rejected`` and publishes ``events``."""

    delta: StateDelta = field(default_factory=StateDelta)
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    events: Sequence[AlignmentEvent] = field(default_factory=list)  # a refresh's: EventRows
    stats: dict[str, float] = field(default_factory=dict)


class AlignmentEngine:
    """Both graphs' memory, the model and the current decisions."""

    def __init__(self, bundle: ModelBundle, settings: EngineSettings,
                 graphs: tuple[MutableGraph, MutableGraph] | None = None,
                 progress: Progress = no_progress) -> None:
        self.bundle, self.settings, self.progress = bundle, settings, progress
        graphs = graphs or (MutableGraph("A", settings.graph_ids[0]),
                            MutableGraph("B", settings.graph_ids[1]))
        unit = bundle.net.loss == "hinge"
        cached = settings.feature_cache_entries, settings.view_cache_entries
        self.sides = (Side(graphs[0], bundle.frozen, True, unit, *cached),
                      Side(graphs[1], bundle.frozen, False, unit, *cached))
        self.book = PairBook(graphs[0], graphs[1])
        self.decider = Decider(settings, self.book, self._named, self._named_many)
        ivf_lists.check_ladder(bundle.quantisers, settings, bundle.version)
        self.lists = CandidateLists(settings, self.sides, progress, bundle.quantisers)
        self.anchors = AnchorHeads(self.sides, settings.anchor_candidates,
                                   settings.anchor_fanout) if settings.anchor_candidates else None
        self.scores = PairScores(bundle, settings, self.sides, self.book, self.decider,
                                 progress, self.anchors)
        self.neighbourhood = NeighbourhoodStage(
            graphs, settings.neighbourhood_rounds, Fanout(
                settings.neighbourhood_fanout, settings.neighbourhood_group_fanout),
            self._preferred, settings.neighbourhood_named, self._preferred_many,
        ) if settings.neighbourhood_rounds else None
        self.queue = DeferredQueue(graphs)
        self.held = HeldWork()
        self.faiss_ids = FaissIds()
        self._typicals: dict[int, float] = {}  # ``_typical`` within one stage call
        self.event_ids = EventIds()
        self._delta = StateDelta()  # what the next ``process`` returns (restore adds to it)
        self._candidates_state: str | None = None  # what the store says of its lists

    @classmethod
    def empty(cls, bundle: ModelBundle, settings: EngineSettings) -> AlignmentEngine:
        """An engine with no graphs yet (batch runs and tests feed it a whole dataset)."""
        return cls(bundle, settings)

    @classmethod
    def restore(cls, bundle: ModelBundle, source: StateSource, settings: EngineSettings,
                progress: Progress = no_progress) -> AlignmentEngine:
        """Rebuild memory from stored state: mirrors, samples, indexes, candidates, pair scores.
        ``progress`` hears from every stage (minutes for a large store) and then from every
        batch the engine processes.

        The result equals the engine that committed the store's state, whatever the order the
        rows are read in: labels are a function of the label table (``labels``), decisions one
        row per left, the recompute queue carries its own order (sequence numbers and the next
        one), lists and pair scores are read back as stored (``candidate_state``) — or, where
        the engine that stored them held work, rebuilt from the stored vectors as a batch
        computation (``pairs``) with held work redone everywhere (``held``). What a restore
        itself decides (vectors of another model version queued, a quantiser trained, rebuilt
        lists) travels with the next call's delta.
        """
        with side_pair(settings.restore_threads) as both:
            graphs = both(lambda s: mirror_from(source, "AB"[s], settings.graph_ids[s],
                                                progress))
            engine = cls(bundle, settings, graphs, progress)
            engine._restore_rest(source, both)
        return engine

    def _restore_rest(self, source: StateSource, both: Both) -> None:
        """``restore`` after the mirrors: ``both`` runs each side's share (``side_pair``)."""
        settings = self.settings
        for left, right, value, event_time in source.labels():
            self.decider.label(left, right, LabelValue(value), event_time)
        for left, right, score in source.decisions():
            self.decider.restore_match(left, right, score)
        self.queue = DeferredQueue((self.sides[0].graph, self.sides[1].graph),
                                   source.next_queue_seq())
        for seq, graph_id, key in sorted(source.queued()):
            self.queue.restore(settings.graph_ids.index(graph_id), key, seq)
        self.faiss_ids = FaissIds(source.next_faiss_id())
        self.event_ids = EventIds(source.event_identity(), source.next_event_seq())
        self._candidates_state = source.candidates_state()
        stored = candidate_state.stored_lists(source, self.sides, self._candidates_state,
                                              self.bundle.version, settings, self.progress,
                                              both)
        if stored is not None:  # the vectors go straight into their stored IVF cells
            self.lists.use_quantiser(source.quantiser(self.bundle.version))
        both(lambda s: restore_side(self.sides[s], source, self.bundle.version,
                                    None if stored is None else stored.own_cells(s),
                                    self.anchors is not None, self.progress))
        for s in (0, 1):  # the queue and the delta are shared: one side after the other
            queue_missing(self.sides[s], s, self.queue, self._delta)
        both(lambda s: warm_side(self.bundle, self.sides[s], settings.restore_warm_entities,
                                 self.progress))
        if stored is None:
            self.lists.use_quantiser(source.quantiser(self.bundle.version))
        self._restore_candidates(source, stored, both)
        if self.neighbourhood is not None:
            if (frozen := source.neighbourhood_relations(self.bundle.version)) is not None:
                self.neighbourhood.use_relations(*frozen)
            self.neighbourhood.restore(self.decider, source.neighbourhood_matches())
            self._typicals.clear()
        if self.bundle.pair_head is not None:  # views of the lists' entities, read or rebuilt
            both(lambda s: warm_views(self.bundle, self.sides[s], self.sides[1 - s],
                                      settings.restore_warm_entities, self.progress))

    def _restore_candidates(self, source: StateSource,
                            stored: candidate_state.StoredLists | None, both: Both) -> None:
        """Lists and pair scores: read where the store's are current for this model and these
        settings (``stored``), else rebuilt from the vectors (and all rows rewritten with the
        next delta). Read, the IVF cells are the rows' own; a cell not stored is computed
        here and stored with the next delta (decision 0067)."""
        if stored is not None:
            if self.anchors is not None:
                stored.restore_anchors(self.sides, self.anchors, both)
            stored.load(self.sides, self.book, source, self.settings.top_k, self.progress, both)
            self.progress("restore: CSLS heads", 0, 1)
            self.lists.refresh_heads(both, moves=False)  # derived from the read rows
            both(lambda s: stored.register(self.sides, s))
            return
        anchored = self.anchors.rebuild(both) if self.anchors is not None else _NONE
        self.scores.rebuild(setops.union1d(self.lists.rebuild(), anchored))
        self._keep_quantiser()
        self._delta.candidates_reset = True
        self.held.everywhere = self.pending_count > 0

    def _preferred(self, left: int, right: int) -> bool:
        """The model alone would match the pair (its score reaches the match threshold; with
        ``neighbourhood_csls`` its CSLS over the book's pairs of both entities is positive
        too): what breaks a tie of the neighbourhood stage, as ``align``'s candidate scores
        do. Cost: the two entities' scored pairs (their candidate lists)."""
        score = self.book.score(left, right)
        if score is None or score < self.settings.match_threshold:
            return False
        if not self.settings.neighbourhood_csls:
            return True
        return 2 * score > self._typical(0, left) + self._typical(1, right)

    def _preferred_many(self, lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
        """``_preferred`` of each pair ``(lefts[i], rights[i])`` (a rebuild's ties): the pairs'
        scores in one read, the typical scores of the entities not read yet in this stage call
        from one read of all their pairs (a ``score`` read per pair was 70 % of the stage's
        CPU at ContEA batch2–4, decision 0123)."""
        score = self.book.node_scores(lefts, rights)
        out = score >= self.settings.match_threshold  # NaN (not scored): False
        if self.settings.neighbourhood_csls and out.any():
            typical_a = self._typicals_of(0, lefts[out])
            out[out] = 2 * score[out] > typical_a + self._typicals_of(1, rights[out])
        return out

    def _typicals_of(self, side: int, nodes: np.ndarray) -> np.ndarray:
        """``_typical`` of each of ``nodes``."""
        todo = sorted({n for n in nodes.tolist() if (n << 1 | side) not in self._typicals})
        if todo:
            at, scores = self.book.scores_of(side, np.array(todo, dtype=np.int64))
            found = typicals(at, scores, len(todo), self.settings.csls_k)
            self._typicals.update(zip([n << 1 | side for n in todo], found, strict=True))
        return np.array([self._typicals[n << 1 | side] for n in nodes.tolist()])

    def _typical(self, side: int, node: int) -> float:
        """``node``'s typical pair score (``neighbourhood.typical``: CSLS's ``r``), read once
        per stage call (the book does not change during one): its pairs one ``score`` read
        each, not a vectorised read, whose cost grows with the book's recent changes."""
        key = node << 1 | side
        found = self._typicals.get(key)
        if found is None:
            score = self.book.score
            scores = [score(node, v) if side == 0 else score(v, node)
                      for v in self.book.partners(side, node)]
            found = self._typicals[key] = typical(
                np.array([s for s in scores if s is not None]), self.settings.csls_k)
        return found

    def _named(self, left: int, right: int) -> bool:
        """Whether both entities of a pair of nodes have a name (else the stricter unnamed
        threshold)."""
        return self.sides[0].graph.is_named(left) and self.sides[1].graph.is_named(right)

    def _named_many(self, lefts: np.ndarray, rights: np.ndarray) -> np.ndarray:
        """``_named`` of each pair ``(lefts[i], rights[i])`` (a rematch asks of every pair)."""
        return self.sides[0].graph.named_mask(lefts) & self.sides[1].graph.named_mask(rights)

    # one batch

    def process(self, changes: Sequence[TripleChange], labels: Sequence[Label]) -> Outcome:
        """Apply one micro-batch and return its state delta, rejections, events and cost (a
        small batch on one thread: ``threads``)."""
        inputs = len(changes) + len(labels) + self.pending_count
        small = inputs < self.settings.single_thread_below
        own = self.settings.steady_threads if small else self.settings.bulk_threads
        with second_threads(own > 1), threads_for(inputs, self.settings.single_thread_below):
            return self._process(changes, labels)

    def _process(self, changes: Sequence[TripleChange], labels: Sequence[Label]) -> Outcome:
        started = time.perf_counter()
        delta = self._delta
        applied = apply_changes(delta, [s.graph for s in self.sides], self.settings, changes,
                                self.progress)
        labelled = apply_labels(delta, self.decider, labels, applied.causes)
        stats: dict[str, float] = {"labels_unknown_entity": float(self._unknown(labels))}
        affected = find_affected(self.sides, applied, self.progress)
        stats["affected_A"], stats["affected_B"] = (float(len(a)) for a in affected.nodes)
        stats["affected"] = stats["affected_A"] + stats["affected_B"]
        recompute = Recompute(self.bundle, self.sides, self.queue, self.faiss_ids,
                              self.settings.recompute_chunk, self.progress,
                              self.settings.vector_tolerance,
                              levelwise_from=self.settings.recompute_levelwise_from)
        computed = recompute(delta, affected, self.settings.max_affected_per_batch)
        stats["recomputed"] = float(len(computed[0]) + len(computed[1]) + recompute.kept)
        stats["vectors_kept"] = float(recompute.kept)
        stats["deferred"] = float(self.queue.count)
        stats["recompute_s"] = time.perf_counter() - started
        self.held.add(computed, affected.gone, labelled, applied.causes, applied.touched,
                      fed=bool(changes or labels), first=recompute.first)
        events = self._refresh(delta, stats) if self._refresh_due() else []
        stats["held_calls"] = float(self.held.calls)
        with _timed(stats, "rows_s"):
            self._store_candidates(delta)
            for side in self.sides:
                side.put_level1(delta, self.bundle.version)
        stats["events"] = float(len(events))
        stats["delta_rows"] = float(delta.rows())
        stats["process_s"] = time.perf_counter() - started
        self._delta = StateDelta()
        return Outcome(delta=delta, rejected=applied.rejected, events=events, stats=stats)

    def _refresh_due(self) -> bool:
        """Lists and decisions wait only for a rebuild-sized drain: the work held plus the
        queue still to drain (see ``held``)."""
        pending = self.queue.count
        return self.held.due(pending, self.settings.max_held_batches,
                             self.lists.rebuilds(self.held.changed + pending))

    def _refresh(self, delta: StateDelta, stats: dict[str, float]) -> EventRows:
        """Candidate lists, pair scores and decisions for everything held; the events."""
        held, self.held = self.held, HeldWork()
        bulk = self.lists.rebuilds(held.changed)  # every list rebuilt: the stages' bulk path
        changed = self.scores.update(self._candidates(held, stats), held.computed, held.removed,
                                     held.labelled, stats, self.queue.waiting())
        self._keep_quantiser()
        self.progress("decisions", 0, 1)
        with _timed(stats, "decide_s"):
            decided = decide(delta, self.decider, held, changed)
        with _timed(stats, "neighbourhood_s"):
            given = self._neighbourhood(delta, held, decided, changed, bulk)
        del changed  # a bulk refresh's every pair: not held beside the events (decision 0133)
        with _timed(stats, "events_s"):
            return build_events(self, delta, decided, held.causes, given)

    def _candidates(self, held: HeldWork, stats: dict[str, float]) -> np.ndarray:
        """The pairs that entered or left candidate lists, for the scores stage to hold alone
        (it lets them go before its groups: at a bulk refresh every pair, decision 0126)."""
        reranked = self.lists.reranked
        on = second_thread() and not self.lists.rebuilds(held.changed)
        with beside(on and self.anchors is not None) as run:  # not beside a rebuild's peak
            heads = run(self._anchor_heads, held, stats) if self.anchors is not None else None
            with _timed(stats, "lists_s"):
                touched, searched = self.lists.update(held.computed, held.removed)
            if heads is not None:
                touched = setops.union1d(touched, heads.result())
        stats["researched"] = float(searched)
        stats["csls_reranked"] = float(self.lists.reranked - reranked)
        return touched

    def _anchor_heads(self, held: HeldWork, stats: dict[str, float]) -> np.ndarray:
        """The shared-anchor heads' moved pairs: beside a repair of the lists where the batch
        has a second thread (decision 0140; they read the samples alone, the lists the
        vectors and lists)."""
        assert self.anchors is not None
        recomputed = self.anchors.recomputed
        with _timed(stats, "anchors_s"):
            pairs = self.anchors.update(held.first)
        stats["anchor_rows"] = float(self.anchors.recomputed - recomputed)
        return pairs

    def _neighbourhood(self, delta: StateDelta, held: HeldWork, decided: list[Change],
                       rescored: np.ndarray, bulk: bool
                       ) -> dict[int, tuple[Evidence, ...]]:
        """The neighbourhood stage after the decisions (``neighbourhood_stage``): its changes
        join ``decided`` (rows marked as its own); their evidence by ``id`` of the change.
        ``rescored`` pairs can move the stage's tie-breaks; a ``bulk`` refresh rebuilds the
        stage's tables instead of following them."""
        stage = self.neighbourhood
        if stage is None:
            return {}
        keys = ({a for a, _ in held.labelled} | {c.left for c in decided},
                {b for _, b in held.labelled} | {c.right for c in decided})
        if held.everywhere:
            keys[0].update(self.decider.matches)
            keys[1].update(self.decider.matched_right)
        self.progress("neighbourhood", 0, 1)
        lefts, rights = packed.split(rescored[:0] if bulk else rescored)
        nodes = set(lefts.tolist()), set(rights.tolist())
        self._typicals.clear()
        changes = stage.update(self.decider, held.touched, keys, nodes, bulk)
        self._typicals.clear()
        if stage.learnt:
            stage.learnt = False
            delta.neighbourhood_relations = NeighbourhoodRelations(
                self.bundle.version, stage.learnt_at, tuple(stage.relation_names()))
        for change in changes:
            if not change.retract:
                delta.decisions[change.left] = NeighbourhoodMatch(change.right, change.score)
            elif change.left not in self.decider.matches:
                delta.decisions[change.left] = Retracted(change.right)
        decided.extend(changes)
        size = self.settings.evidence_size
        return {id(c): stage.evidence(c.left, c.right, size) for c in changes if not c.retract}

    def _store_candidates(self, delta: StateDelta) -> None:
        """The changed list and pair rows, and whether they are current (nothing held)."""
        candidate_state.changed_rows(delta, self.sides, self.book, self.anchors)
        held = self.held.calls or self.held.everywhere or len(self.scores.owed)
        state = "" if held else candidate_state.fingerprint(self.bundle.version, self.settings)
        if state != self._candidates_state:
            delta.candidates = self._candidates_state = state

    def _keep_quantiser(self) -> None:
        """Keep a quantiser the lists just trained: it is frozen for this model version."""
        if (centroids := self.lists.take_trained()) is not None:
            self._delta.quantiser = (self.bundle.version, centroids)

    def _unknown(self, labels: Sequence[Label]) -> int:
        """Labels naming an entity neither graph has (yet): counted for the operator."""
        left, right = (s.graph for s in self.sides)
        return sum(not (left.alive(x.left) and right.alive(x.right)) for x in labels)

    # reading

    def final_alignment(self) -> dict[str, tuple[str, float]]:
        """Current matches: left key → (right key, current pair score)."""
        found = {left: (right, self.book.scores[left, right])
                 for left, right in self.decider.matches.items()}
        if self.neighbourhood is not None:
            found.update(self.neighbourhood.published)
        return dict(sorted(found.items()))

    @property
    def pending(self) -> tuple[Mapping[int, int], Mapping[int, int]]:
        """Queued recomputes per graph: node → sequence number (read-only)."""
        return self.queue.queued(0), self.queue.queued(1)

    @property
    def pending_count(self) -> int:
        """Embeddings waiting for recompute (call ``process`` with no input to drain them)."""
        return self.queue.count


_NONE = np.zeros(0, dtype=np.int64)


@contextmanager
def _timed(stats: dict[str, float], key: str) -> Iterator[None]:
    """``stats[key]``: the seconds the block took (the stage clocks of a batch's stats)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        stats[key] = time.perf_counter() - started
