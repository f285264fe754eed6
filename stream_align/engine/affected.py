"""Every node's current sample ``S(x)``, its reverse ``R(y) = {x : y ∈ S(x)}``, and what they imply.

Why this is exact: under frozen statistics a node's type and sample are functions of its *own*
edges (and its type string); its level-0 features of its own attributes. The retrieval embedding
of ``x`` reads ``h0(x)``, ``h1(x)`` and ``h1`` of ``S(x)``, so it depends on ``x``, ``S(x)`` and
``S(S(x))`` — features, types and samples of those nodes. After a batch touching nodes ``T``
(upserted, deleted, triple endpoints) only samples of ``T`` can change; the embeddings that can
change are exactly those of ``D = T ∪ R(T) ∪ R(R(T))`` (computed with the *new* samples: a node
outside ``T`` samples the same nodes before and after).

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


class SampleIndex:
    """Samples, summaries and the reverse sample index of one graph (global node indices)."""

    def __init__(self, graph: MutableGraph, frozen: Frozen) -> None:
        self.graph, self.frozen = graph, frozen
        self.samples: dict[int, tuple[int, ...]] = {}
        self.summaries: dict[int, np.ndarray] = {}
        self.reverse: dict[int, set[int]] = {}

    def refresh(self, nodes: Iterable[int], chunk: int = 4096) -> None:
        """Recompute samples and summaries of ``nodes`` from their full edge lists; update ``R``."""
        todo = sorted(set(nodes))
        for start in range(0, len(todo), chunk):
            self._refresh(todo[start:start + chunk])

    def _refresh(self, nodes: list[int]) -> None:
        live = [i for i in nodes if self.graph.is_alive(i)]
        samples, summaries = self._compute(live)
        for i in nodes:
            for y in self.samples.pop(i, ()):
                self.reverse[y].discard(i)
            self.summaries.pop(i, None)
        for i in live:
            self.samples[i] = samples[i]
            self.summaries[i] = summaries[i]
            for y in samples[i]:
                self.reverse.setdefault(y, set()).add(i)

    def _compute(self, nodes: list[int]) -> tuple[dict[int, tuple[int, ...]],
                                                  dict[int, np.ndarray]]:
        """Samples and summaries with the model's own sampling on the nodes' full edge lists."""
        if not nodes:
            return {}, {}
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
        return samples, summaries

    def affected(self, touched: Iterable[int]) -> set[int]:
        """``D = T ∪ R(T) ∪ R(R(T))`` among live nodes (call after :meth:`refresh` of ``T``)."""
        level = set(touched)
        seen = set(level)
        for _ in range(2):
            level = {x for y in level for x in self.reverse.get(y, ())} - seen
            seen |= level
        return {i for i in seen if self.graph.is_alive(i)}

    def closure(self, nodes: Iterable[int]) -> set[int]:
        """``L = D ∪ S(D) ∪ S(S(D))``: every node whose type, sample or features ``D`` reads."""
        seen = set(nodes)
        level = set(seen)
        for _ in range(2):
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
