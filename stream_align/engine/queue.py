"""The bound stage: which affected embeddings a call recomputes, and the queue of the rest.

A call recomputes at most ``max_affected_per_batch`` embeddings; the others wait in a queue
that drains oldest first. The queue is state the store keeps (``StateDelta.queue``) so a
restart drains exactly what the live process would have:

- every queued node has a sequence number, and numbers are handed out in one order: the
  oldest queued first, then this call's new nodes by entity key — so the order is a function
  of the inputs, not of node numbers (private to one process) or of set iteration;
- the next number is state too (``StateDelta.next_queue_seq``): restored, the queue numbers new
  work exactly as the live one would have;
- a node leaves the queue when it is recomputed or deleted; a queued node affected again keeps
  its number (it has waited longest) and with it its stored row, which the delta leaves alone.
  Until decision 0115 the delta rewrote that row with the same number: during a bulk load
  every input call reaches most of both graphs, whose nodes are mostly queued, so each call
  wrote a row for nearly every node (≈ 110,000 a call at 80K a side) and the rows a triple
  cost grew with the graphs.

Only the :class:`DeferredQueue` writes its maps; others read them through ``queued`` and
``count``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from stream_align.engine.delta import StateDelta
from stream_align.engine.mutable_graph import MutableGraph


class DeferredQueue:
    """Queued recomputes of both graphs (node → sequence number) and the next number."""

    def __init__(self, graphs: tuple[MutableGraph, MutableGraph], first: int = 0) -> None:
        self._graphs = graphs
        self._pending: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self._next = first

    def queued(self, side: int) -> Mapping[int, int]:
        """``side``'s queued nodes and their sequence numbers (read-only)."""
        return MappingProxyType(self._pending[side])

    @property
    def count(self) -> int:
        """Queued recomputes of both graphs."""
        return sum(len(p) for p in self._pending)

    @property
    def next_seq(self) -> int:
        """The number the next queued node gets."""
        return self._next

    def restore(self, side: int, key: str, seq: int) -> None:
        """A stored queue row (restore): kept if its entity is alive."""
        node = self._graphs[side].index.get(key)
        if node is not None and self._graphs[side].is_alive(node):
            self._pending[side][node] = seq
            self._next = max(self._next, seq + 1)

    def enqueue(self, delta: StateDelta, side: int, nodes: list[int]) -> None:
        """Queue ``nodes`` (not queued yet) in this order, recording their rows."""
        graph = self._graphs[side]
        for node in nodes:
            self._pending[side][node] = self._next
            delta.queue[graph.graph_id, graph.keys[node]] = self._next
            self._next += 1
        if nodes:  # the numbering is state too: restored, it continues from here
            delta.next_queue_seq = self._next

    def waiting(self) -> tuple[np.ndarray, np.ndarray]:
        """Each graph's queued nodes, sorted (what the pair scores owe to, ``pairs``)."""
        left, right = (np.sort(np.fromiter(p, dtype=np.int64, count=len(p)))
                       for p in self._pending)
        return left, right

    def first_share(self, affected: tuple[set[int], set[int]], budget: int) -> int:
        """Graph A's part of ``budget``: in proportion to the nodes waiting on each graph
        (queued or newly ``affected``), and at least what graph B cannot use (B takes the rest).
        Taking A's whole queue first made a large load compute every A vector before any B
        vector: the IVF quantiser was trained on A alone and A's lists were set against an
        empty graph B, to be refilled as B arrived (decision 0044)."""
        waiting = [len(self._pending[s]) + len(affected[s] - self._pending[s].keys())
                   for s in (0, 1)]
        total = waiting[0] + waiting[1]
        if total <= budget:
            return budget
        return max(budget - waiting[1], budget * waiting[0] // total)

    def choose(self, delta: StateDelta, side: int, affected: set[int], budget: int
               ) -> list[int]:
        """Queue ``affected`` and take up to ``budget`` live nodes, oldest first; what leaves
        the queue (taken or deleted) and what joins it is recorded in ``delta`` (a stored node
        affected again keeps its number: its row stands).

        Every call reads the whole queue (a deleted node leaves it wherever it waits), so
        that read is in arrays: a bulk drain's queue holds most of both graphs (≈ 2M nodes at
        1M a side) while a call takes ``budget`` of them; Python tuples sorted a call cost
        seconds there (decision 0102). The delta gets the same rows in the same order."""
        graph, pending = self._graphs[side], self._pending[side]
        stored = len(pending)  # queued by an earlier call: rows in the store (listed first)
        fresh = sorted(affected.difference(pending), key=graph.keys.__getitem__)
        for node in fresh:
            pending[node] = self._next
            self._next += 1
        if fresh:
            delta.next_queue_seq = self._next
        nodes = np.fromiter(pending, dtype=np.int64, count=len(pending))
        seqs = np.fromiter(pending.values(), dtype=np.int64, count=len(pending))
        alive = graph.alive_mask(nodes)
        taken = _oldest(nodes, seqs, np.flatnonzero(alive), max(budget, 0))
        gone = ~alive
        gone[taken] = True
        joins = ~gone  # a fresh node that stays: a new row
        joins[:stored] = False
        gone[stored:] = False  # a fresh node leaves no stored row to delete
        for i in np.flatnonzero(gone | joins).tolist():
            delta.queue[graph.graph_id, graph.keys[int(nodes[i])]] = \
                None if gone[i] else int(seqs[i])
        for node in nodes[~alive].tolist() + nodes[taken].tolist():
            del pending[node]
        return nodes[taken].tolist()


def _oldest(nodes: np.ndarray, seqs: np.ndarray, live: np.ndarray, budget: int) -> np.ndarray:
    """Positions of the ``budget`` live nodes with the smallest ``(seq, node)``. A queue's
    map lists its nodes by number (each is added with the next number, a restore adds them in
    order), so that is its first live entries; anything else is sorted."""
    if np.all(seqs[1:] > seqs[:-1]):
        return live[:budget]
    return live[np.lexsort((nodes[live], seqs[live]))[:budget]]
