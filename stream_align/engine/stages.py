"""The middle stages of ``process``: affected set, recompute, decisions.

``process`` is a pipeline; each stage takes an explicit input, changes only the state it owns
and records what the store must keep in the call's ``StateDelta``:

====================  =========================================  ================================
stage                 input → output                             owns (writes)
====================  =========================================  ================================
apply (``apply``)     changes, labels → :class:`Applied`,         mirrors, label book
                      labelled pairs
affected              touched nodes → :class:`Affected`           sample index (and drops the
                                                                  affected nodes' kept pair-head
                                                                  views, ``view_cache``)
recompute             affected → recomputed nodes whose           queue (``queue``), vectors,
                      vector moved (``vector_tolerance``)         FAISS index, level-1 cache
candidates            recomputed/removed → pairs that entered     candidate lists, list bounds
(``candidate_lists``  or left a list
``.CandidateLists``)
anchor candidates     samples that moved → pairs that entered     shared-anchor heads
(``anchor_heads``)    or left an entity's shared-anchor heads
scores (``pairs``)    those pairs, recomputed → changed pairs     pair book
decisions             changed pairs → :class:`Change` list        matching
neighbourhood         touched nodes, moved decisions and labels   support tables, its matches,
(``neighbourhood_     → its :class:`Change` list (only with       frozen relations
stage``)              ``neighbourhood_rounds``)
events (``events``)   changes → ``AlignmentEvent`` list            event numbering
====================  =========================================  ================================

A stage reads the state of earlier stages through their read methods (``MutableGraph``,
``SampleIndex.closure``, ``Side.vectors`` …) and never writes it, so a difference found by a
stage's unit test lies in that stage.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from stream_align.engine.apply import Applied
from stream_align.engine.decisions import Change, Decider
from stream_align.engine.delta import Match, Retracted, StateDelta
from stream_align.engine.held import HeldWork
from stream_align.engine.levelwise import encode_levelwise, supported
from stream_align.engine.progress import Beat, Progress, chunks, no_progress
from stream_align.engine.queue import DeferredQueue
from stream_align.engine.recompute import encode_local, row_vectors
from stream_align.engine.side import FaissIds, Side
from stream_align.heap import passes_reuse_heap
from stream_align.model.bundle import ModelBundle


@dataclass
class Affected:
    """Per graph (left, right): the live nodes whose embedding can change, the deleted ones,
    and the nodes the batch's changes touched themselves (``own``: their new vectors are
    always indexed, whatever ``vector_tolerance``)."""

    nodes: tuple[set[int], set[int]] = field(default_factory=lambda: (set(), set()))
    gone: tuple[set[int], set[int]] = field(default_factory=lambda: (set(), set()))
    own: tuple[set[int], set[int]] = field(default_factory=lambda: (set(), set()))


def find_affected(sides: tuple[Side, Side], applied: Applied,
                  progress: Progress = no_progress) -> Affected:
    """Refresh the samples of the touched nodes; every embedding that can change (``affected``:
    ``D = H ∪ R(H)``) and every node the batch deleted."""
    out = Affected()
    for s, side in enumerate(sides):
        progress(f"affected {side.graph.label}", 0, 2)
        typed, sampled = side.samples.refresh(applied.touched[s])
        out.gone[s].update(n for n in applied.touched[s] if not side.graph.is_alive(n))
        out.own[s].update(applied.touched[s])
        progress(f"affected {side.graph.label}", 1, 2)
        out.nodes[s].update(side.samples.affected(typed | applied.upserted[s], sampled))
        changed = applied.upserted[s] | sampled | out.gone[s]
        side.views.forget(_views_moved(side, changed),
                          changed | _samplers(side, applied.upserted[s] | out.gone[s]))
    return out


def _views_moved(side: Side, changed: set[int]) -> set[int]:
    """The nodes whose pair-head view can differ after nodes ``changed`` their name
    (upserted), their sample (``M``) or were deleted: ``X ∪ R(X)``. A view reads its entity's
    name and sample and its sampled neighbours' names and samples (``scoring.side_view``);
    types and vectors it does not read, so ``D``'s ``R(R(F))`` — the samplers' samplers of a
    node whose type changed — keep their rows (decision 0076). ``R`` is the new one: a node
    outside ``M`` samples the same nodes before and after."""
    return changed | _samplers(side, changed)


def _samplers(side: Side, nodes: set[int]) -> set[int]:
    """``R(nodes)``: the nodes whose sample holds one of ``nodes``. Of a view's parts only the
    two-hop anchors read the sampled neighbours' samples, so a node whose neighbour was only
    resampled keeps its own parts (``ViewCache.own_versions``); a neighbour's new name or its
    deletion changes them (the summed neighbour names)."""
    if not nodes:
        return set()
    return set(side.samples.samplers_of(np.array(sorted(nodes), dtype=np.int64))[1].tolist())


class Either(Collection[int]):
    """The nodes of some collections, read as their union without building it: a drain's
    ``stale`` nodes are its queue (most of a graph during a bulk load, ≈ 2M nodes at 1M a
    side) with its affected set, and a call asks of a few of them only whether they are in
    (decision 0102)."""

    def __init__(self, *parts: Collection[int]) -> None:
        self._parts = parts

    def __contains__(self, node: object) -> bool:
        return any(node in part for part in self._parts)

    def __iter__(self) -> Iterator[int]:
        for k, part in enumerate(self._parts):
            yield from (x for x in part if not any(x in p for p in self._parts[:k]))

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass
class Recompute:
    """The recompute stage: bound the affected set, encode what fits, index the vectors
    (with a ``tolerance``, only those that moved: decision 0073)."""

    bundle: ModelBundle
    sides: tuple[Side, Side]
    queue: DeferredQueue
    ids: FaissIds
    chunk: int
    progress: Progress = no_progress
    tolerance: float = 0.0
    kept: int = 0  # recomputed vectors not indexed: within ``tolerance`` of the indexed one
    levelwise_from: int = 0  # chunks of this many nodes or more: ``levelwise`` (0: never)
    first: tuple[set[int], set[int]] = field(default_factory=lambda: (set(), set()))
    """Per graph, the indexed nodes that had no indexed vector before this call (the
    shared-anchor heads' pools are read for these alone, ``anchor_heads``)."""

    def __call__(self, delta: StateDelta, affected: Affected, budget: int
                 ) -> tuple[set[int], set[int]]:
        """Forget deleted nodes, then recompute up to ``budget`` queued or affected nodes
        (oldest first within a graph; graph A's part by what waits on each graph,
        ``DeferredQueue.first_share``); return the nodes per graph whose new vector was
        indexed (every recomputed one at ``tolerance`` 0)."""
        computed: list[set[int]] = []
        for s, side in enumerate(self.sides):
            side.drop(delta, affected.gone[s])
            side.level1.outdate(affected.nodes[s])  # their kept h1 may be outdated now
        parts = (self.queue.first_share(affected.nodes, budget), budget)
        for s, side in enumerate(self.sides):
            chosen = self.queue.choose(delta, s, affected.nodes[s], min(parts[s], budget))
            budget -= len(chosen)
            # stale: affected, queued or taken from the queue now (a chunk must not read
            # the kept h1 of a node a later chunk of this call recomputes)
            stale = Either(affected.nodes[s], self.queue.queued(s).keys(), set(chosen))
            new = np.asarray(chosen, dtype=np.int64)
            new = new[side.faiss_ids(new) < 0].tolist()
            computed.append(self.encode(delta, side, chosen, stale, affected.own[s]))
            self.first[s].update(computed[s].intersection(new))
        if not self.queue.count:  # drained: the level-wise h0 rows wait for the next load
            for side in self.sides:
                side.level0.clear()
        return computed[0], computed[1]

    def encode(self, delta: StateDelta, side: Side, nodes: list[int],
               stale: Collection[int], own: Collection[int] = ()) -> set[int]:
        """Exact embeddings of ``nodes`` (``recompute``; kept ``h1`` rows read where their
        node is not ``stale``: affected or queued); index and record those that moved
        (:meth:`moved`) and return them. A node kept at its indexed vector still has its
        exact ``h1`` kept (``level1_cache``): only its retrieval vector lags, by less than
        the tolerance, so the error does not travel through the model to its neighbours."""
        stage = f"recompute {side.graph.label}"
        indexed: set[int] = set()
        starts = range(0, len(nodes), self.chunk)
        for done, start in enumerate(chunks(starts, self.progress, stage)):
            beat = partial(self.progress, stage, done, len(starts))
            part = nodes[start:start + self.chunk]
            with passes_reuse_heap():  # a chunk's encode reuses the last chunk's pages
                vectors = self.vectors(side, part, stale, beat)
            if self.tolerance:
                moved = self.moved(side, part, vectors, own)
                self.kept += len(part) - int(moved.sum())
                part, vectors = [n for n, m in zip(part, moved.tolist(), strict=True) if m], \
                    vectors[moved]
            side.put_vectors(delta, part, vectors, self.bundle.version, self.ids)
            indexed.update(part)
        return indexed

    def vectors(self, side: Side, part: list[int], stale: Collection[int],
                beat: Beat) -> np.ndarray:
        """Retrieval vectors of a chunk, its ``h1`` rows kept: level-wise from
        ``levelwise_from`` nodes (decision 0095), else on the chunk's local graph."""
        if self.levelwise_from and len(part) >= self.levelwise_from and supported(self.bundle):
            return encode_levelwise(self.bundle, side, part, stale, beat)
        local = encode_local(self.bundle, side.samples, part, side.features, beat,
                             (side.level1, stale), side.anchor_ids)
        local.keep_level1(side.level1)
        beat()
        vectors: np.ndarray = row_vectors(self.bundle, local, local.rows(part), side.query)
        beat()
        return vectors

    def moved(self, side: Side, nodes: list[int], vectors: np.ndarray,
              own: Collection[int]) -> np.ndarray:
        """Which new ``vectors`` are indexed: a cosine distance from the indexed version of
        at least ``tolerance`` (``Side.drift``: always for a node without one), or an
        ``own`` node, whose triples or attributes the batch changed. The distance is taken
        from the indexed version — what its lists and pair scores were computed with — not
        from the last recompute, so small moves in one direction add up until they pass."""
        keep = side.drift(nodes, vectors) < self.tolerance
        if own:
            keep &= ~np.isin(np.asarray(nodes, dtype=np.int64),
                             np.fromiter(own, dtype=np.int64, count=len(own)))
        return ~keep


def decide(delta: StateDelta, decider: Decider, held: HeldWork,
           changed: np.ndarray) -> list[Change]:
    """Repair the one-to-one matching after the ``changed`` pairs (packed, ``decisions``);
    record each left's new decision. A restore mid-drain (``held.everywhere``) reconsiders
    every entity."""
    book = decider.book
    lefts = {u for a, _ in held.labelled if (u := book.node_of(0, a)) is not None}
    rights = {v for _, b in held.labelled if (v := book.node_of(1, b)) is not None}
    if held.everywhere:
        scored = book.entities()
        lefts |= scored[0] | decider.left_match.keys()
        rights |= scored[1] | decider.right_match.keys()
    decided = decider.update(changed, lefts, rights)
    for change in decided:
        delta.decisions[change.left] = Retracted(change.right) if change.retract else \
            Match(change.right, change.score)
    return decided
