"""List, pair and decision work held back while the hub-bound queue drains — only when
holding saves work.

When a batch leaves embeddings queued (``max_affected_per_batch``), the next calls recompute
them. Refreshing candidate lists, pair scores and decisions after each of those calls costs
what it changed — a repaired list per changed vector, its pairs re-scored — *unless* the
changed vectors reach ``rebuild_share`` of all indexed vectors: then every list is rebuilt from
one exact pass (a fixed cost: a 46K × 65K product at ContEA batch2), and doing that once per
call of a bulk load or snapshot would redo it once per call. So a call refreshes what it
computed, keeps the rest pending and publishes at once, except while the work held since the
last refresh *plus the queue still to drain* is rebuild-sized and the queue is not empty: then
lists, scores and decisions wait for the call that empties the queue (or the
``max_held_batches``-th held call *with input*, so decisions cannot starve under endless input),
which refreshes once for everything held. Input-free calls only drain a queue that no longer
grows, so they end by themselves. (Until 2026-12-05 every call with queued work held,
whatever its size: at 40K entities a side and 1,000 inserts/s every event then waited for a
whole drain, ≈ 130 s. Until 2026-12-06 the held work alone was judged: a ContEA snapshot,
drained in calls of ``max_affected_per_batch`` that each stay under the share, repaired its
lists, scores and neighbourhood tables row by row once per call where one rebuild for the
whole snapshot does less; decision 0071. Input-free calls counted toward the bound until
then too: a snapshot drained in more calls than that refreshed at the last counted one and
repaired the rest row by row, ContEA batch4 and batch5; decision 0074.)

Equality at quiescence does not depend on when refreshes happen: lists are kept equal to a
fresh search over the current vectors, a pair is re-scored whenever one of its entities is
recomputed, and the matching repair ends in the batch aligner's matching for the current
scores (``decisions``); a queued node's vector and pair scores are those of the previous graph
until its own recompute, which is refreshed like any other.

Nothing here is persisted: a restore rebuilds every list and pair score from the stored vectors
and, if work is queued, marks the held work ``everywhere``: the stored decisions predate vectors
that changed before the crash, so the flush repairs the decisions of every entity. That repair
ends in the matching the live flush reaches: both start from the stored matching (the one the
last flush left), and a pair can only block it if one of its scores or labels changed since
(``decisions``), so considering every pair finds the same blocking pairs as considering the
held ones. What a restore cannot rebuild is the held *causes*: events of that flush name fewer
causes and, without any, carry their decision time as ``event_time`` (``causes``).
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field

from stream_align.engine.causes import Causes
from stream_align.engine.node_set import NodeSet


def _sets() -> tuple[NodeSet, NodeSet]:
    return NodeSet(), NodeSet()


@dataclass
class HeldWork:
    """What changed since lists and decisions were last refreshed (per side: left, right)."""

    computed: tuple[NodeSet, NodeSet] = field(default_factory=_sets)
    first: tuple[NodeSet, NodeSet] = field(default_factory=_sets)  # of computed: no vector before
    removed: tuple[NodeSet, NodeSet] = field(default_factory=_sets)
    labelled: list[tuple[str, str]] = field(default_factory=list)
    touched: tuple[NodeSet, NodeSet] = field(default_factory=_sets)  # by the changes
    causes: Causes = field(default_factory=Causes)  # what caused what (ids, latest times)
    calls: int = 0
    fed: int = 0  # of ``calls``, those that brought input (changes or labels)
    everywhere: bool = False  # decisions of every entity need repair (restored mid-drain)

    def add(self, computed: tuple[Set[int], Set[int]], removed: tuple[Set[int], Set[int]],
            labelled: list[tuple[str, str]], causes: Causes,
            touched: tuple[Set[int], Set[int]] = (set(), set()), fed: bool = True,
            first: tuple[Set[int], Set[int]] = (set(), set())) -> None:
        """Hold one call's changes (a node recomputed twice is refreshed once); ``fed``: the
        call brought input (an input-free call only drains the queue); ``first``: the
        ``computed`` nodes indexed for the first time (``Recompute.first``)."""
        for s in (0, 1):
            self.computed[s].update(computed[s])
            self.first[s].update(first[s])
            self.touched[s].update(touched[s])
            self.removed[s].update(removed[s])
        self.causes.merge(causes)
        self.labelled.extend(labelled)
        self.calls += 1
        self.fed += fed

    @property
    def changed(self) -> int:
        """Vectors recomputed since the last refresh (both sides)."""
        return len(self.computed[0]) + len(self.computed[1])

    def due(self, pending: int, max_calls: int, rebuild: bool) -> bool:
        """Whether to refresh now: nothing queued, ``max_calls`` calls with input held, or the
        held work with the ``pending`` queue is not ``rebuild``-sized (repairing what changed
        costs no more now than later). Input-free calls do not count: without input the queue
        only shrinks, so they end in the call that empties it."""
        return not pending or self.fed >= max_calls or not rebuild
