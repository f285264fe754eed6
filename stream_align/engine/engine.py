"""The incremental alignment engine: one call per micro-batch, one state delta out.

``process`` applies the batch's changes and labels, recomputes exactly the embeddings that can
change (``affected``), updates both FAISS indexes, refreshes the candidate lists that can change
(both directions), re-scores the pairs that can change with cross-graph attention and repairs the
one-to-one matching (``decisions``). It writes no store: everything the store must keep comes
back as one ``StateDelta`` (``delta``) that the caller writes into the transaction carrying the
batch's offsets and outbox, so state, offsets and events commit together. The in-memory state is
only valid if that commit succeeds — after a failed commit, rebuild the engine with
:meth:`AlignmentEngine.restore`, which reads the store through ``state_source.StateSource``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from stream_align.engine.apply import Applied, apply_changes
from stream_align.engine.causes import Causes
from stream_align.engine.decisions import Decider, PairBook
from stream_align.engine.delta import LabelRow, Match, StateDelta
from stream_align.engine.errors import Rejection
from stream_align.engine.events import EventIds, build_events
from stream_align.engine.held import HeldWork
from stream_align.engine.mutable_graph import MutableGraph, mirror_from
from stream_align.engine.pairs import PairMaintenance
from stream_align.engine.progress import Progress, chunks, counted, no_progress
from stream_align.engine.recompute import encode_local, row_vectors
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import FaissIds, Side
from stream_align.engine.state_source import StateSource
from stream_align.events.contracts import AlignmentEvent, Label, LabelValue, TripleChange
from stream_align.model.bundle import ModelBundle


@dataclass
class Outcome:
    """What one batch produced: the service writes ``delta`` into the batch's transaction,
    dead-letters ``rejected`` and publishes ``events``."""

    delta: StateDelta = field(default_factory=StateDelta)
    rejected: list[tuple[int, Rejection]] = field(default_factory=list)
    events: list[AlignmentEvent] = field(default_factory=list)
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
        self.sides = (Side(graphs[0], bundle.frozen, True, unit),
                      Side(graphs[1], bundle.frozen, False, unit))
        self.book = PairBook()
        self.decider = Decider(settings, self.book, self._named)
        self.pairs = PairMaintenance(bundle, settings, self.sides, self.book, self.decider,
                                     progress)
        self.pending: tuple[dict[int, int], dict[int, int]] = ({}, {})  # node → queue seq
        self.held = HeldWork()
        self._seq = 0
        self.faiss_ids = FaissIds()
        self.event_ids = EventIds()
        self._delta = StateDelta()  # what the next ``process`` returns (restore adds to it)

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
        one), lists and scores are rebuilt from the stored vectors as a batch computation
        (``pairs``), and held work is redone everywhere (``held``). What a restore itself
        decides (vectors of another model version queued, a quantiser trained) travels with
        the next call's delta.
        """
        graphs = (mirror_from(source, "A", settings.graph_ids[0], progress),
                  mirror_from(source, "B", settings.graph_ids[1], progress))
        engine = cls(bundle, settings, graphs, progress)
        for left, right, value, event_time in source.labels():
            engine.decider.label(left, right, LabelValue(value), event_time)
        for left, right, score in source.decisions():
            engine.decider.restore_match(left, right, score)
        engine._seq = source.next_queue_seq()
        for seq, graph_id, key in sorted(source.queued()):
            engine._queue(settings.graph_ids.index(graph_id), key, seq)
        engine.faiss_ids = FaissIds(source.next_faiss_id())
        engine.event_ids = EventIds(source.event_identity(), source.next_event_seq())
        for s, side in enumerate(engine.sides):
            side.samples.refresh(side.graph.alive_indices())
            engine._load_embeddings(source, s)
        engine.pairs.lists.use_quantiser(source.quantiser(bundle.version))
        engine.pairs.rebuild()
        engine._keep_quantiser()
        engine.held.everywhere = engine.pending_count > 0
        return engine

    def _named(self, left: str, right: str) -> bool:
        """Whether both entities of a pair have a name (else the stricter unnamed threshold)."""
        return self.sides[0].graph.has_name(left) and self.sides[1].graph.has_name(right)

    def _queue(self, s: int, key: str, seq: int) -> None:
        node = self.sides[s].graph.index.get(key)
        if node is not None and self.sides[s].graph.is_alive(node):
            self.pending[s][node] = seq
            self._seq = max(self._seq, seq + 1)

    def _load_embeddings(self, source: StateSource, s: int) -> None:
        """Index stored vectors of this model version; queue the rest for recompute."""
        side, gid = self.sides[s], self.sides[s].graph.graph_id
        nodes, ids, vectors = [], [], []
        for key, fid, version, vector in counted(source.embeddings(gid), self.progress,
                                                 f"restore {side.graph.label}: embeddings"):
            node = side.graph.index.get(key)
            if node is None or fid is None:
                continue
            if version != self.bundle.version:
                side.unindexed[node] = fid  # recomputed under the id it has
                continue
            nodes.append(node)
            ids.append(fid)
            vectors.append(vector)
        if nodes:
            side.load_vectors(nodes, np.asarray(ids, dtype=np.int64), np.stack(vectors))
        for node in side.graph.alive_indices():
            if node not in side.fid and node not in self.pending[s]:
                self.pending[s][node] = self._seq
                self._delta.queue[gid, side.graph.keys[node]] = self._seq
                self._seq += 1
                self._delta.next_queue_seq = self._seq

    # one batch

    def process(self, changes: Sequence[TripleChange], labels: Sequence[Label]) -> Outcome:
        """Apply one micro-batch and return its state delta, rejections, events and cost."""
        started = time.perf_counter()
        delta = self._delta
        applied = apply_changes(delta, [s.graph for s in self.sides], self.settings, changes,
                                self.progress)
        labelled = self._labels(delta, labels, applied.causes)
        stats: dict[str, float] = {"labels_unknown_entity": float(self._unknown(labels))}
        computed, removed = self._recompute(delta, applied, stats)
        stats["recompute_s"] = time.perf_counter() - started
        self.held.add(computed, removed, labelled, applied.causes)
        events = self._refresh(delta, stats) if self._refresh_due() else []
        stats["held_calls"] = float(self.held.calls)
        stats["events"] = float(len(events))
        stats["delta_rows"] = float(delta.rows())
        stats["process_s"] = time.perf_counter() - started
        self._delta = StateDelta()
        return Outcome(delta=delta, rejected=applied.rejected, events=events, stats=stats)

    def _refresh_due(self) -> bool:
        """Lists and decisions wait while queued recomputes remain (see ``held``)."""
        return not self.pending_count or self.held.calls >= self.settings.max_held_batches

    def _refresh(self, delta: StateDelta, stats: dict[str, float]) -> list[AlignmentEvent]:
        """Candidate lists, pair scores and decisions for everything held; the events."""
        held, self.held = self.held, HeldWork()
        changed = self.pairs.update(held.computed, held.removed, held.labelled, stats)
        self._keep_quantiser()
        lefts = {a for a, _ in held.labelled}
        rights = {b for _, b in held.labelled}
        if held.everywhere:
            lefts |= self.book.rights.keys() | self.decider.matches.keys()
            rights |= self.book.lefts.keys() | self.decider.matched_right.keys()
        self.progress("decisions", 0, 1)
        decided = self.decider.update(changed, lefts, rights)
        for change in decided:
            delta.decisions[change.left] = None if change.retract else \
                Match(change.right, change.score)
        return build_events(self, delta, decided, held.causes)

    def _keep_quantiser(self) -> None:
        """Keep a quantiser the lists just trained: it is frozen for this model version."""
        if (centroids := self.pairs.lists.take_trained()) is not None:
            self._delta.quantiser = (self.bundle.version, centroids)

    def _labels(self, delta: StateDelta, labels: Sequence[Label],
                causes: Causes) -> list[tuple[str, str]]:
        """Apply and record labels; return the pairs whose standing changed (each label's
        cause is recorded on their entities)."""
        changed: set[tuple[str, str]] = set()
        for position, label in enumerate(labels):
            delta.labels.append(LabelRow(position, label.left, label.right, label.label.value,
                                         label.source, label.event_time))
            pairs = self.decider.label(label.left, label.right, label.label, label.event_time)
            causes.label(pairs, label.event_id, label.event_time)
            changed |= pairs
        return sorted(changed)

    def _unknown(self, labels: Sequence[Label]) -> int:
        """Labels naming an entity neither graph has (yet): kept — labels and triples travel
        on different topics, so the entity may come later and the label then applies."""
        left, right = (s.graph for s in self.sides)
        return sum(not (left.alive(x.left) and right.alive(x.right)) for x in labels)

    def _recompute(self, delta: StateDelta, applied: Applied,
                   stats: dict[str, float]) -> tuple[tuple[set[int], set[int]],
                                                     tuple[set[int], set[int]]]:
        """Refresh samples, pick the affected nodes (bounded), recompute and index them."""
        computed: list[set[int]] = []
        removed: list[set[int]] = []
        budget = self.settings.max_affected_per_batch
        for s, side in enumerate(self.sides):
            self.progress(f"affected {side.graph.label}", 0, 2)
            typed, sampled = side.samples.refresh(applied.touched[s])
            gone = {n for n in applied.touched[s] if not side.graph.is_alive(n)}
            side.drop(delta, gone)
            self.progress(f"affected {side.graph.label}", 1, 2)
            affected = side.samples.affected(typed | applied.upserted[s], sampled)
            stats[f"affected_{side.graph.label}"] = float(len(affected))
            chosen = self._bound(delta, s, affected, budget)
            budget -= len(chosen)
            self._encode(delta, side, chosen)
            computed.append(set(chosen))
            removed.append(gone)
        stats["affected"] = stats["affected_A"] + stats["affected_B"]
        stats["recomputed"] = float(sum(len(c) for c in computed))
        stats["deferred"] = float(sum(len(p) for p in self.pending))
        return (computed[0], computed[1]), (removed[0], removed[1])

    def _bound(self, delta: StateDelta, s: int, affected: set[int], budget: int) -> list[int]:
        """Oldest queued nodes first, then this batch's; what does not fit is queued."""
        side, pending = self.sides[s], self.pending[s]
        graph = side.graph
        stored = set(pending)  # queued by an earlier batch: in the store's queue
        fresh = sorted(affected - stored, key=graph.keys.__getitem__)
        for node in fresh:
            pending[node] = self._seq
            self._seq += 1
        if fresh:  # the queue's numbering is state too: restored, it continues from here
            delta.next_queue_seq = self._seq
        live = sorted((seq, node) for node, seq in pending.items() if graph.is_alive(node))
        chosen = [node for _, node in live[:max(budget, 0)]]
        done = set(chosen)
        for node in list(pending):
            key = (graph.graph_id, graph.keys[node])
            if node in done or not graph.is_alive(node):
                del pending[node]
                if node in stored:
                    delta.queue[key] = None
            elif node in affected:
                delta.queue[key] = pending[node]
        return chosen

    def _encode(self, delta: StateDelta, side: Side, nodes: list[int]) -> None:
        chunk = self.settings.recompute_chunk
        stage = f"recompute {side.graph.label}"
        starts = range(0, len(nodes), chunk)
        for done, start in enumerate(chunks(starts, self.progress, stage)):
            beat = partial(self.progress, stage, done, len(starts))
            part = nodes[start:start + chunk]
            local = encode_local(self.bundle, side.samples, part, side.features, beat)
            local.keep_level1(side.level1)
            beat()
            vectors = row_vectors(self.bundle, local, local.rows(part), side.query)
            beat()
            side.put_vectors(delta, part, vectors, self.bundle.version, self.faiss_ids)

    # reading

    def final_alignment(self) -> dict[str, tuple[str, float]]:
        """Current matches: left key → (right key, current pair score)."""
        return {left: (right, self.book.scores[left, right])
                for left, right in sorted(self.decider.matches.items())}

    @property
    def pending_count(self) -> int:
        """Embeddings waiting for recompute (call ``process`` with no input to drain them)."""
        return sum(len(p) for p in self.pending)
