"""Every node's current sample ``S(x)``, its reverse ``R(y) = {x : y ∈ S(x)}``, and what they imply.

Why this is exact: under frozen statistics a node's type and sample are functions of its *own*
edges (and its type string); its level-0 features of its own attributes. The encoder reads
``h0(x)`` (features, type), ``h1(x)`` (``h0`` of ``x`` and ``S(x)``) and ``h2(x)`` (``h1`` of
``x`` and ``S(x)``). After a batch, let ``F`` be the nodes whose ``h0`` inputs changed (upserted,
type changed, deleted) and ``M`` those whose sample changed — both among the touched nodes. Then
``h1`` can change exactly on ``H = F ∪ M ∪ R(F)`` and the embedding on ``D = H ∪ R(H)``
(computed with the *new* ``R``: a node outside ``M`` samples the same nodes before and after).
``D`` ⊆ ``T ∪ R(T) ∪ R(R(T))`` for the touched ``T``; a triple that leaves both endpoints'
samples unchanged affects nothing, which is why most updates at a hub cost nothing.

Besides the sample, each node keeps a *summary*: the triples behind its sampled edges plus one
triple per distinct (relation, direction) it has. A local graph holding the summaries of some
nodes gives each of them the same inferred type (same relation signature) and the same bottom-k
sample (the top-k keys are all present) as the full graph — whatever their degree — so the
recompute of a hub's neighbourhood reads O(k + relations) edges per node, not its whole degree.

The index is held in numpy tables, not per-node Python objects: each node's type and sampled
``(neighbour, relation)`` slots in fixed-width ``int32`` rows, its summary triples in one pool of
``int32`` rows addressed by offset (compacted when half of it is stale), and ``R`` as a
value-less :class:`PairTable` of ``(sampled, sampler)`` (8 bytes an entry). As dicts of tuples,
arrays and sets they cost ≈ 1.9 KB per entity at 40K entities a side (docs/BENCHMARKS.md "Where
the memory goes"); as tables ≈ 0.3 KB (decision 0039).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from stream_align import setops
from stream_align.arrays import grown
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.pair_table import PairTable
from stream_align.engine.row_pool import RowPool
from stream_align.model.inputs import Frozen
from stream_align.model.sampling import key_hashes, sample_keys, top_k
from stream_align.model.vocab import in_edge_ids

_EMPTY = np.zeros((0, 3), dtype=np.int64)
_NO_STATE = -1
"""Slot count of a node without a sample (dead, or never refreshed): unlike a live node with no
edges (0 slots), so a node coming alive counts as changed."""


class _Computed:
    """Samples of some live nodes as the model computes them: type, slots, summary triples."""

    def __init__(self, types: np.ndarray, nbr: np.ndarray, rel: np.ndarray,
                 count: np.ndarray, summaries: np.ndarray, sizes: np.ndarray) -> None:
        self.types, self.nbr, self.rel, self.count = types, nbr, rel, count
        self.summaries, self.sizes = summaries, sizes  # every node's triples, concatenated


class SampleIndex:
    """Samples, summaries and the reverse sample index of one graph (global node indices)."""

    def __init__(self, graph: MutableGraph, frozen: Frozen) -> None:
        self.graph, self.frozen = graph, frozen
        k = frozen.sampling.fanout
        self._type = np.zeros(0, dtype=np.int32)
        self._count = np.zeros(0, dtype=np.int32)  # slots; ``_NO_STATE``: no sample
        self._nbr = np.zeros((0, k), dtype=np.int32)  # sampled neighbours, -1 past the count
        self._rel = np.zeros((0, k), dtype=np.int32)  # their relations, 0 past the count
        self._summaries = RowPool(3)  # (head, relation, tail) rows per node
        self._reverse = PairTable(values=False)  # (sampled, sampler)
        self._hash = np.zeros(0, dtype=np.uint64)  # node → key hash (``key_hashes``)
        self._hashed = 0  # nodes hashed so far
        self.noting = False  # keep ``notes`` (the shared-anchor candidates read them)
        self._notes: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def _fit(self, size: int) -> None:
        self._type = grown(self._type, size, -1)
        self._count = grown(self._count, size, _NO_STATE)
        self._nbr = grown(self._nbr, size, -1)
        self._rel = grown(self._rel, size, 0)

    def refresh(self, nodes: Iterable[int], chunk: int = 4096, report: bool = True
                ) -> tuple[set[int], set[int]]:
        """Recompute samples and summaries of ``nodes`` from their full edge lists; update ``R``.

        Returns the nodes whose type changed and those whose sampled ``(neighbour, relation)``
        slots changed (a deleted node is in both): the ``F`` and ``M`` of :meth:`affected`
        (``report`` False: left empty).
        """
        todo = np.array(sorted(set(nodes)), dtype=np.int64)
        typed: set[int] = set()
        sampled: set[int] = set()
        if len(todo):
            self._fit(int(todo[-1]) + 1)
        for start in range(0, len(todo), chunk):
            part = self._refresh(todo[start:start + chunk])
            if report:
                typed.update(part[0].tolist())
                sampled.update(part[1].tolist())
        return typed, sampled

    def restore(self, nodes: Iterable[int], chunk: int) -> None:
        """``refresh`` of every node of a restore: nothing noted and no changed sets kept
        (every node changed, and a restore reads neither: its shared-anchor rows are read
        or recomputed whole)."""
        noting, self.noting = self.noting, False
        try:
            self.refresh(nodes, chunk, report=False)
        finally:
            self.noting = noting

    def _refresh(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        alive = self.graph.alive_mask(nodes)
        new = self._compute(nodes[alive].tolist())
        k = self._nbr.shape[1]
        types = np.full(len(nodes), -1, dtype=np.int32)
        count = np.full(len(nodes), _NO_STATE, dtype=np.int32)
        nbr = np.full((len(nodes), k), -1, dtype=np.int32)
        rel = np.zeros((len(nodes), k), dtype=np.int32)
        types[alive], count[alive], nbr[alive], rel[alive] = new.types, new.count, new.nbr, \
            new.rel
        typed = types != self._type[nodes]
        changed = ((count != self._count[nodes]) | (nbr != self._nbr[nodes]).any(axis=1)
                   | (rel != self._rel[nodes]).any(axis=1))
        moved = nodes[changed]
        old = self._nbr[moved]
        xs = np.repeat(moved, k).reshape(-1, k)
        self._reverse.change_many(old[old >= 0], xs[old >= 0], present=False)
        fresh = nbr[changed]
        self._reverse.change_many(fresh[fresh >= 0], xs[fresh >= 0], present=True)
        if self.noting and len(moved):
            self._note(moved, old, fresh)
        self._type[nodes], self._count[nodes], self._nbr[nodes], self._rel[nodes] = \
            types, count, nbr, rel
        self._summaries.clear(nodes[~alive])
        self._summaries.set_flat(nodes[alive], new.summaries, new.sizes)
        return nodes[typed], nodes[changed]

    def _note(self, moved: np.ndarray, old: np.ndarray, fresh: np.ndarray) -> None:
        """Keep the nodes whose sample moved and the sampled nodes whose ``R`` gained (+1)
        or lost (−1) a sampler."""
        xs = moved[:, None].astype(np.int64)
        before = setops.unique((old.astype(np.int64) << 32 | xs)[old >= 0])
        after = setops.unique((fresh.astype(np.int64) << 32 | xs)[fresh >= 0])
        lost = setops.setdiff1d(before, after, assume_unique=True) >> 32
        got = setops.setdiff1d(after, before, assume_unique=True) >> 32
        self._notes.append((moved.astype(np.int64), np.concatenate([lost, got]),
                            np.concatenate([-np.ones(len(lost), np.int64),
                                            np.ones(len(got), np.int64)])))

    def take_notes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Since the last call (while ``noting``): the nodes whose sample moved, and the
        distinct nodes whose ``R`` changed with the net change of its size, ascending."""
        notes, self._notes = self._notes, []
        empty = np.zeros(0, dtype=np.int64)
        moved = setops.unique(np.concatenate([n[0] for n in notes] or [empty]))
        nodes, at = np.unique(np.concatenate([n[1] for n in notes] or [empty]),
                              return_inverse=True)
        net = np.bincount(at, weights=np.concatenate([n[2] for n in notes] or [empty]),
                          minlength=len(nodes)).astype(np.int64)
        return moved, nodes, net

    def fans(self, nodes: np.ndarray) -> np.ndarray:
        """``|R(node)|`` of each node: how many nodes sample it."""
        return self._reverse.counts_of(nodes)

    def samplers_of(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``R`` of many nodes: pairs ``(i, x)``, ``x`` samples ``nodes[i]``."""
        return self._reverse.seconds_of(np.asarray(nodes, dtype=np.int64))

    def _compute(self, nodes: list[int]) -> _Computed:
        """Types, slots and summaries with the model's own sampling on each node's own edges:
        a node's type and sample read no other edge, so neither its neighbours' edges nor a
        local graph over them is built (they were most of a restore's samples; decision
        0143). Each node's edges come in its local graph's order (``own_edges``), so a tie of
        keys picks the same edge."""
        k = self._nbr.shape[1]
        if not nodes:
            return _Computed(np.zeros(0, np.int32), np.zeros((0, k), np.int32),
                             np.zeros((0, k), np.int32), np.zeros(0, np.int32), _EMPTY,
                             np.zeros(0, np.int64))
        ids = np.asarray(nodes, dtype=np.int64)
        n = len(ids)
        local, _ = self.graph.local_graph(ids, _EMPTY, texts=False)  # the nodes' types alone
        at, other, relation, out = self.graph.own_edges(ids)
        vocab, frozen = self.frozen.vocab, self.frozen
        known = vocab.relation_ids(local)[relation]
        edges = np.stack([at, other, np.where(out, known, in_edge_ids(known))], axis=1)
        types = vocab.type_ids(local, edges)
        avg = frozen.avg_counts.get(local.label, np.ones((1, 1), dtype=np.float32))
        keys = sample_keys(self.key_hashes(ids)[at], self.key_hashes(other), types[at],
                           edges[:, 2], avg)
        hood = top_k(edges, keys, n, frozen.sampling.fanout)
        keep = _summary_edges(edges, hood.nbr, hood.rel, hood.mask, n, len(self.graph.keys))
        mine, theirs = ids[at[keep]], other[keep]
        summaries = np.stack([np.where(out[keep], mine, theirs), relation[keep],
                              np.where(out[keep], theirs, mine)], axis=1)
        node, summaries = _distinct_triples(at[keep], summaries, len(self.graph.keys))
        return _Computed(types.astype(np.int32),
                         np.where(hood.mask, hood.nbr, -1).astype(np.int32),
                         np.where(hood.mask, hood.rel, 0).astype(np.int32),
                         hood.mask.sum(axis=1).astype(np.int32), summaries,
                         np.bincount(node, minlength=n))

    def key_hashes(self, nodes: np.ndarray) -> np.ndarray:
        """``model.sampling.key_hashes`` of the nodes' keys under the model's salt, hashed
        once per node (a key never changes; 8 bytes a node): every sample refresh and local
        encode hashed its whole closure's keys again (decision 0051)."""
        known, keys = self._hashed, self.graph.keys
        if known < len(keys):
            self._hash = grown(self._hash, len(keys), 0)
            self._hash[known:len(keys)] = key_hashes(keys[known:], self.frozen.salt)
            self._hashed = len(keys)
        return self._hash[np.asarray(nodes, dtype=np.int64)]

    def _samplers(self, nodes: Iterable[int]) -> set[int]:
        """``R(nodes)``: every node that samples one of ``nodes``."""
        ys = np.fromiter(nodes, dtype=np.int64)
        return set(self._reverse.seconds_of(np.sort(ys))[1].tolist()) if len(ys) else set()

    def affected(self, features: set[int], sampled: set[int]) -> set[int]:
        """``D = H ∪ R(H)``, ``H = F ∪ M ∪ R(F)``, among live nodes (after :meth:`refresh`)."""
        first = features | sampled | self._samplers(features)
        return {i for i in first | self._samplers(first) if self.graph.is_alive(i)}

    def slots(self, node: int) -> tuple[tuple[int, int], ...]:
        """``node``'s sampled ``(neighbour, relation id)`` slots, in the encoder's order."""
        if node >= len(self._count) or self._count[node] <= 0:
            return ()
        c = int(self._count[node])
        return tuple(zip(self._nbr[node, :c].tolist(), self._rel[node, :c].tolist(),
                         strict=True))

    def slot_table(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`slots` of many nodes at once, ``int64 (len(nodes), k)``: the neighbours
        (``-1`` past a node's slots) and their relation ids (``0`` there)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        k = self._nbr.shape[1]
        nbr = np.full((len(nodes), k), -1, dtype=np.int64)
        rel = np.zeros((len(nodes), k), dtype=np.int64)
        inside = nodes < len(self._count)
        rows = nodes[inside]
        filled = np.arange(k)[None, :] < self._count[rows][:, None]
        nbr[inside] = np.where(filled, self._nbr[rows], -1)
        rel[inside] = np.where(filled, self._rel[rows], 0)
        return nbr, rel

    def types(self, nodes: np.ndarray) -> np.ndarray:
        """Each node's inferred type id as its local graph gives it (``int64``; ``-1`` for a
        node without a sample): the type ``h0`` reads."""
        return self._type[np.asarray(nodes, dtype=np.int64)].astype(np.int64)

    def sampled(self, node: int) -> tuple[int, ...]:
        """``S(node)``: its sampled neighbours, in slot order."""
        return tuple(n for n, _ in self.slots(node))

    def samplers(self, node: int) -> set[int]:
        """``R(node)``: the nodes that sample it."""
        return self._samplers([node])

    def most_sampled(self) -> int:
        """The node the most others sample (ties: the lowest), or -1 if none is sampled."""
        nodes, counts = self._reverse.first_counts()
        return int(nodes[np.argmax(counts)]) if len(nodes) else -1

    def closure(self, nodes: Iterable[int], hops: int = 2) -> set[int]:
        """``L = D ∪ S(D) ∪ S(S(D))``: every node whose type, sample or features ``D`` reads
        (``hops=1``: ``D ∪ S(D)``, the nodes whose ``h1`` the last layer of ``D`` reads)."""
        seen = set(nodes)
        level = np.fromiter(seen, dtype=np.int64)
        for _ in range(hops):
            level = level[level < len(self._nbr)]
            found = self._nbr[level].ravel()
            new = set(found[found >= 0].tolist()) - seen
            seen |= new
            level = np.fromiter(new, dtype=np.int64)
        return seen

    def summary_triples(self, nodes: Iterable[int]) -> np.ndarray:
        """Unique triples of the summaries of ``nodes`` (what a local graph needs for them)."""
        rows = self._summaries.gather(np.fromiter(nodes, dtype=np.int64))
        return setops.unique_rows(rows) if len(rows) else _EMPTY

    def nbytes(self) -> int:
        """Bytes held by the tables."""
        return int(self._type.nbytes + self._count.nbytes + self._nbr.nbytes + self._rel.nbytes
                   + self._summaries.nbytes() + self._reverse.nbytes())


def _distinct_triples(node: np.ndarray, triples: np.ndarray, n: int
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Each node's distinct ``(head, relation, tail)`` rows (a self-loop comes as an out- and
    an in-edge), ascending by node and triple: ``setops.unique_rows`` of two packed columns
    (node and head, relation and tail; ``n`` bounds the node numbers), not of four."""
    rows = setops.unique_rows(np.stack([node * n + triples[:, 0],
                                        triples[:, 1] * n + triples[:, 2]], axis=1))
    first, second = rows[:, 0], rows[:, 1]
    return first // n, np.stack([first % n, second // n, second % n], axis=1)


def _summary_edges(edges: np.ndarray, nbr: np.ndarray, rel: np.ndarray, mask: np.ndarray,
                   n_first: int, n: int) -> np.ndarray:
    """Directed-edge rows of the first ``n_first`` nodes that are sampled or first of their
    (node, relation) — the triples that fix each node's sample and type signature."""
    mine = np.flatnonzero(edges[:, 0] < n_first)
    if not len(mine):
        return mine
    n_rel = int(max(edges[:, 2].max(), rel.max())) + 1
    code = (edges[mine, 0] * (n + 1) + edges[mine, 1]) * n_rel + edges[mine, 2]
    rows = np.repeat(np.arange(nbr.shape[0]), nbr.shape[1])[mask.ravel()]
    picked = (rows * (n + 1) + nbr[mask]) * n_rel + rel[mask]
    sampled = setops.isin(code, picked)
    _, first = np.unique(edges[mine, 0] * n_rel + edges[mine, 2], return_index=True)
    keep = sampled.copy()
    keep[first] = True
    return mine[keep]
