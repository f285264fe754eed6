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
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from stream_align.engine.mutable_graph import MutableGraph
from stream_align.model.inputs import Frozen
from stream_align.model.sampling import key_hashes, sample
from stream_align.model.vocab import directed_edges

_EMPTY = np.zeros((0, 3), dtype=np.int64)
_State = tuple[int, tuple[tuple[int, int], ...]]  # type id, sampled (neighbour, relation) slots


class SampleIndex:
    """Samples, summaries and the reverse sample index of one graph (global node indices)."""

    def __init__(self, graph: MutableGraph, frozen: Frozen) -> None:
        self.graph, self.frozen = graph, frozen
        self.samples: dict[int, tuple[int, ...]] = {}
        self.summaries: dict[int, np.ndarray] = {}
        self.reverse: dict[int, set[int]] = {}
        self._state: dict[int, _State] = {}

    def refresh(self, nodes: Iterable[int], chunk: int = 4096) -> tuple[set[int], set[int]]:
        """Recompute samples and summaries of ``nodes`` from their full edge lists; update ``R``.

        Returns the nodes whose type changed and those whose sampled ``(neighbour, relation)``
        slots changed (a deleted node is in both): the ``F`` and ``M`` of :meth:`affected`.
        """
        todo = sorted(set(nodes))
        typed: set[int] = set()
        sampled: set[int] = set()
        for start in range(0, len(todo), chunk):
            part = self._refresh(todo[start:start + chunk])
            typed |= part[0]
            sampled |= part[1]
        return typed, sampled

    def _refresh(self, nodes: list[int]) -> tuple[set[int], set[int]]:
        live = [i for i in nodes if self.graph.is_alive(i)]
        samples, summaries, state = self._compute(live)
        old = {i: self._state.get(i, (-1, None)) for i in nodes}
        new = {i: state.get(i, (-1, None)) for i in nodes}
        typed = {i for i in nodes if old[i][0] != new[i][0]}
        changed = {i for i in nodes if old[i][1] != new[i][1]}
        for i in nodes:
            for y in self.samples.pop(i, ()):
                self.reverse[y].discard(i)
            self.summaries.pop(i, None)
            self._state.pop(i, None)
        for i in live:
            self.samples[i], self.summaries[i], self._state[i] = samples[i], summaries[i], state[i]
            for y in samples[i]:
                self.reverse.setdefault(y, set()).add(i)
        return typed, changed

    def _compute(self, nodes: list[int]) -> tuple[dict[int, tuple[int, ...]],
                                                  dict[int, np.ndarray], dict[int, _State]]:
        """Samples, summaries and (type, slots) with the model's own sampling on full edges."""
        if not nodes:
            return {}, {}, {}
        triples = self.graph.incident(nodes)
        local, glob = self.graph.local_graph(nodes, triples)
        vocab, frozen = self.frozen.vocab, self.frozen
        edges = directed_edges(local, vocab.relation_ids(local))
        types = vocab.type_ids(local, edges)
        avg = frozen.avg_counts.get(local.label, np.ones((1, 1), dtype=np.float32))
        hood = sample(edges, local.num_entities, key_hashes(local.keys, frozen.salt), types, avg,
                      frozen.sampling.fanout)
        samples = {int(glob[r]): tuple(glob[hood.nbr[r][hood.mask[r]]].tolist())
                   for r in range(len(nodes))}
        keep = _summary_edges(edges, hood.nbr, hood.rel, hood.mask, len(nodes), local.num_entities)
        keep = keep[np.argsort(edges[keep, 0], kind="stable")]
        bounds = np.searchsorted(edges[keep, 0], np.arange(len(nodes) + 1))
        rows = keep % max(len(triples), 1)  # directed edge e and e + m are both triple e
        summaries = {int(glob[r]): triples[np.unique(rows[bounds[r]:bounds[r + 1]])]
                     for r in range(len(nodes))}
        state = {int(glob[r]): (int(types[r]), tuple(zip(samples[int(glob[r])],
                                                         hood.rel[r][hood.mask[r]].tolist(),
                                                         strict=True)))
                 for r in range(len(nodes))}
        return samples, summaries, state

    def _samplers(self, nodes: Iterable[int]) -> set[int]:
        return {x for y in nodes for x in self.reverse.get(y, ())}

    def affected(self, features: set[int], sampled: set[int]) -> set[int]:
        """``D = H ∪ R(H)``, ``H = F ∪ M ∪ R(F)``, among live nodes (after :meth:`refresh`)."""
        first = features | sampled | self._samplers(features)
        return {i for i in first | self._samplers(first) if self.graph.is_alive(i)}

    def slots(self, node: int) -> tuple[tuple[int, int], ...]:
        """``node``'s sampled ``(neighbour, relation id)`` slots, in the encoder's order."""
        state = self._state.get(node)
        return state[1] if state is not None else ()

    def closure(self, nodes: Iterable[int], hops: int = 2) -> set[int]:
        """``L = D ∪ S(D) ∪ S(S(D))``: every node whose type, sample or features ``D`` reads
        (``hops=1``: ``D ∪ S(D)``, the nodes whose ``h1`` the last layer of ``D`` reads)."""
        seen = set(nodes)
        level = set(seen)
        for _ in range(hops):
            level = {y for x in level for y in self.samples.get(x, ())} - seen
            seen |= level
        return seen

    def summary_triples(self, nodes: Iterable[int]) -> np.ndarray:
        """Unique triples of the summaries of ``nodes`` (what a local graph needs for them)."""
        parts = [self.summaries[i] for i in nodes if i in self.summaries]
        parts = [p for p in parts if len(p)]
        return np.unique(np.concatenate(parts), axis=0) if parts else _EMPTY


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
    sampled = np.isin(code, picked)
    _, first = np.unique(edges[mine, 0] * n_rel + edges[mine, 2], return_index=True)
    keep = sampled.copy()
    keep[first] = True
    return mine[keep]
