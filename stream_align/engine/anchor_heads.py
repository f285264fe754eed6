"""The candidates stage's second source: each entity's shared-anchor candidates (decision 0045).

Beside its retrieval list, each entity keeps its ``m`` best entities of the other graph by
shared anchors (``stream_align.anchor_candidates``: the batch aligner's rule, the same
function). They are a function of the samples alone — the anchors are frozen in the model —
so they move only when a sample moves, and exactly these rows can change after a batch:

- the entities whose own sample moved (``SampleIndex`` notes them);
- for an anchor node ``q`` whose samplers ``R(q)`` changed, with partner ``p`` in the other
  graph: the entities sampling ``q`` (their weight for ``q`` reads ``|R(q)|``) and those
  sampling ``p`` (their pools read ``R(q)``) — each only while the fan is within ``cap``
  before or after (a hub anchor gives nothing), so at most ``2 (cap + 1)`` rows per anchor
  that moved, and each row reads at most ``k · cap`` pool entries (``k`` sampled slots).

A row is recomputed whole, as the batch rule computes it, so the heads always equal a batch
computation's. State: one ``int32`` row of ``m`` per entity and side (40 B at ``m = 10``) and
the key hashes that order equal shares (8 B a node, ``Side.tie_keys``); the pools are read
through the reverse sample index the affected set keeps anyway, so no index of its own.

The heads are stored with each entity's list row (decision 0089: recomputing them from the
restored samples was a fifth of a restore): the rows that changed since the last delta
(``take_changed``) go out with it, and a restore that reads current list rows loads them
(``load``) and recomputes only the rows stored with a member it cannot name.
"""

from __future__ import annotations

from collections.abc import Set

import numpy as np

from stream_align import setops
from stream_align.anchor_candidates import AnchorSide, heads, shares
from stream_align.arrays import grown
from stream_align.engine import packed
from stream_align.engine.side import Side
from stream_align.engine.side_pair import Both, serial


def view(mine: Side, other: Side) -> AnchorSide:
    """``mine`` as the shared-anchor rule reads a graph."""
    return AnchorSide(partner=lambda nodes: other.anchor_nodes(mine.anchor_ids(nodes)),
                      fan=mine.samples.fans, samplers=mine.samples.samplers_of,
                      tie=mine.tie_keys)


class AnchorHeads:
    """Both sides' shared-anchor candidates, ``m`` per entity, repaired after sample moves."""

    def __init__(self, sides: tuple[Side, Side], m: int, cap: int) -> None:
        self.sides, self.m, self.cap = sides, m, cap
        self._views = (view(sides[0], sides[1]), view(sides[1], sides[0]))
        self._head = [np.full((0, m), -1, dtype=np.int32) for _ in sides]
        self._changed: list[list[np.ndarray]] = [[], []]  # rows moved since the last delta
        self.recomputed = 0  # rows recomputed (a running count, for the batch stats)
        for side in sides:
            side.samples.noting = True

    def update(self, first: tuple[Set[int], Set[int]]) -> np.ndarray:
        """Recompute the rows due since the last call; return the packed ``left << 32 |
        right`` pairs that entered or left, and every pair of the pool of an entity indexed
        for the ``first`` time since (it enters the pairs of the rows holding it).

        Why the pools of ``first`` alone, not of every recomputed entity (decision 0124):
        the scores stage keeps a pair while both entities are indexed and one lists the
        other (``pairs.PairScores._wanted``), and checks the pairs it is handed plus every
        scored pair of a recomputed or removed entity. A pair ``(x, y)`` of a head can
        change standing only if a row holding it moved (returned here), a list moved (the
        candidates stage), a label named it, or an entity of it was removed (its scored
        pairs) or indexed where it was not: a recomputed entity that had a vector keeps
        its heads' pairs' standing, and those it had are scored pairs, re-scored anyway.
        On DBP15K zh_en's steady tail no entity is indexed for the first time, and the
        pools of the recomputed ones were ≈ 450 pairs an insert at batches of 10, each
        checked and dropped."""
        notes = [side.samples.take_notes() for side in self.sides]
        due = [notes[0][0], notes[1][0]]
        for s in (0, 1):
            nodes, net = notes[s][1], notes[s][2]
            partner = self._views[s].partner(nodes)
            fan = self.sides[s].samples.fans(nodes)
            moved = (np.minimum(fan, fan - net) <= self.cap) & (partner >= 0)
            due[s] = setops.union1d(due[s], self._samplers(s, nodes[moved]))
            far = partner[moved]
            due[1 - s] = setops.union1d(due[1 - s], self._samplers(
                1 - s, far[self.sides[1 - s].samples.fans(far) <= self.cap]))
        return setops.unique(np.concatenate([self._set(0, due[0]), self._set(1, due[1]),
                                             self._pools(0, first[0]),
                                             self._pools(1, first[1])]))

    def rebuild(self, both: Both = serial) -> np.ndarray:
        """Every row (a restore): the packed pairs that entered or left. ``both`` may run
        the two sides at once: a side's rows read both sides' samples and keys, written
        before (``Side.warm_keys``), and write only its own heads."""
        for side in self.sides:
            side.samples.take_notes()
        alive = [np.asarray(side.graph.alive_indices(), dtype=np.int64) for side in self.sides]
        self.recomputed += len(alive[0]) + len(alive[1])
        return setops.unique(np.concatenate(both(lambda s: self._rows(s, alive[s]))))

    def load(self, s: int, nodes: np.ndarray, heads: np.ndarray, size: int) -> None:
        """Side ``s``'s stored rows (a restore): ``heads[i]`` the row of ``nodes[i]``, nodes of
        the other side, ``-1`` past the last (at most ``m`` wide); ``size`` the side's live
        nodes' last plus one (0: none), the rows a rebuild would hold. Nothing to store back."""
        nodes = np.asarray(nodes, dtype=np.int64)
        if size:
            self._head[s] = grown(self._head[s], size, -1)
        if len(nodes):
            self._head[s][nodes] = -1
            self._head[s][nodes, :heads.shape[1]] = heads

    def recompute(self, s: int, nodes: np.ndarray) -> None:
        """Recompute side ``s``'s rows of ``nodes`` (a restore: rows stored with a member it
        could not name); they go out with the next delta. May run on a second thread."""
        self._rows(s, np.asarray(nodes, dtype=np.int64))

    def mark(self, s: int, nodes: np.ndarray) -> None:
        """Side ``s``'s rows of ``nodes`` go out with the next delta, moved or not (a restore
        of rows stored without them: every row written again)."""
        self._changed[s].append(np.asarray(nodes, dtype=np.int64))

    def take_changed(self, s: int) -> np.ndarray:
        """Side ``s``'s nodes whose row moved since the last call, ascending."""
        changed, self._changed[s] = self._changed[s], []
        return setops.unique(np.concatenate(changed)) if changed else np.zeros(0, np.int64)

    def rows(self, s: int, nodes: np.ndarray) -> np.ndarray:
        """``int64 (len(nodes), m)``: side ``s``'s rows of ``nodes`` (``-1`` past the last)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        out = np.full((len(nodes), self.m), -1, dtype=np.int64)
        inside = nodes < len(self._head[s])
        out[inside] = self._head[s][nodes[inside]]
        return out

    def holds(self, s: int, nodes: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Whether ``others[i]`` is a shared-anchor candidate of ``nodes[i]`` (side ``s``)."""
        head = self._head[s]
        nodes = np.asarray(nodes, dtype=np.int64)
        out = np.zeros(len(nodes), dtype=bool)
        inside = nodes < len(head)
        out[inside] = (head[nodes[inside]] == np.asarray(others)[inside, None]).any(axis=1)
        return out

    def nbytes(self) -> int:
        return int(sum(h.nbytes for h in self._head))

    def _samplers(self, s: int, nodes: np.ndarray) -> np.ndarray:
        return setops.unique(self.sides[s].samples.samplers_of(setops.unique(nodes))[1])

    def _set(self, s: int, nodes: np.ndarray) -> np.ndarray:
        """Recompute the rows of ``nodes``; the packed pairs that entered or left."""
        nodes = np.asarray(nodes, dtype=np.int64)
        self.recomputed += len(nodes)
        return self._rows(s, nodes)

    def _rows(self, s: int, nodes: np.ndarray) -> np.ndarray:
        """``_set`` without the count (it may run on a second thread: ``rebuild``)."""
        if not len(nodes):
            return np.zeros(0, dtype=np.int64)
        slots = self.sides[s].samples.slot_table(nodes)[0]
        new = heads(slots, self._views[s], self._views[1 - s], self.cap, self.m)
        self._head[s] = grown(self._head[s], int(nodes.max()) + 1, -1)
        old = self._head[s][nodes].astype(np.int64)
        self._head[s][nodes] = new
        self._changed[s].append(nodes[(old != new).any(axis=1)])
        owner = np.repeat(nodes, self.m).reshape(-1, self.m)
        before, after = (owner << 32 | old)[old >= 0], (owner << 32 | new)[new >= 0]
        return packed.as_pairs(s, setops.setxor1d(before, after))

    def _pools(self, s: int, nodes: set[int]) -> np.ndarray:
        """Every pair of the pools of ``nodes`` (side ``s``), packed."""
        if not nodes:
            return np.zeros(0, dtype=np.int64)
        chosen = np.array(sorted(nodes), dtype=np.int64)
        slots = self.sides[s].samples.slot_table(chosen)[0]
        rows, members, _ = shares(slots, self._views[s], self._views[1 - s], self.cap)
        return packed.as_pairs(s, chosen[rows] << 32 | members)
