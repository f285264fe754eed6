"""List, pair and decision work held back while the hub-bound queue drains.

When a batch leaves embeddings queued (``max_affected_per_batch``), the next calls recompute
them anyway; refreshing candidate lists, pair scores and decisions after each of those calls
would redo that work once per call — on a bulk load or a ContEA snapshot every call rebuilds
every list (a 46K × 65K product per call at ContEA batch2). So while the queue is non-empty
the engine only recomputes and *holds* what changed here; the call that empties the queue (or
the ``max_held_batches``-th held call, so decisions cannot starve under endless input) refreshes
lists, scores and decisions once for everything held. The stale state in between is what the
queue already implies: a queued node's vector and pair scores are those of the previous graph.

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

from dataclasses import dataclass, field

from stream_align.engine.causes import Causes


def _sets() -> tuple[set[int], set[int]]:
    return set(), set()


@dataclass
class HeldWork:
    """What changed since lists and decisions were last refreshed (per side: left, right)."""

    computed: tuple[set[int], set[int]] = field(default_factory=_sets)
    removed: tuple[set[int], set[int]] = field(default_factory=_sets)
    labelled: list[tuple[str, str]] = field(default_factory=list)
    causes: Causes = field(default_factory=Causes)  # what caused what (ids, latest times)
    calls: int = 0
    everywhere: bool = False  # decisions of every entity need repair (restored mid-drain)

    def add(self, computed: tuple[set[int], set[int]], removed: tuple[set[int], set[int]],
            labelled: list[tuple[str, str]], causes: Causes) -> None:
        """Hold one call's changes (a node recomputed twice is refreshed once)."""
        for s in (0, 1):
            self.computed[s].update(computed[s])
            self.removed[s].update(removed[s])
        self.causes.merge(causes)
        self.labelled.extend(labelled)
        self.calls += 1
