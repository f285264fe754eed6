"""Vocabularies frozen into a model: relations (with direction) and entity types.

Relations are keyed by their URI local name plus direction (``birthPlace>`` for an out-edge,
``birthPlace<`` for an in-edge), so the two graphs share one vocabulary wherever their schemas use
the same property names (DBP15K zh/en both use DBpedia property names). Index 0 is "unknown":
a relation first seen while streaming still gets a transform.

Types come from ``Graph.types`` when the data has them; otherwise they are *inferred* by
clustering entities' relation signatures (k-means on the binary relation-with-direction vectors of
both graphs) and the centroids are frozen, so a new entity gets its type by nearest centroid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from stream_align.graph import Graph
from stream_align.model.sparse_rows import unit_rows

UNKNOWN = "<unk>"
#: Relation lists whose vocabulary ids are kept (two graphs, and a list that just grew).
KNOWN_RELATION_LISTS = 4


def relation_key(uri: str) -> str:
    """``http://dbpedia.org/property/birthPlace`` → ``birthPlace`` (schemas share local names)."""
    return uri.rstrip("/").rsplit("/", 1)[-1].rsplit("#", 1)[-1]


def plain_relation(name: str) -> tuple[str, bool] | None:
    """A vocabulary name as ``(relation key, outgoing)``: ``birthPlace>`` → ``("birthPlace",
    True)``, ``birthPlace<`` → ``("birthPlace", False)``; the unknown relation → ``None``.
    The direction marker is this vocabulary's own notation, never shown to consumers."""
    if name == UNKNOWN or name[-1:] not in ("<", ">"):
        return None
    return name[:-1], name.endswith(">")


def directed_edges(graph: Graph, relation_ids: np.ndarray) -> np.ndarray:
    """``int64 (2m, 3)`` rows ``(node, neighbour, relation id)`` for both edge directions.

    ``relation_ids[r]`` is the vocabulary id of graph relation ``r`` as an out-edge; the in-edge
    id is stored right after it (``+1``), see :meth:`Vocab.relation_ids`. The unknown relation
    (0) has no direction: both of its edges stay 0, or an in-edge would read as id 1, the first
    known relation's out-edge.
    """
    t = graph.triples
    if len(t) == 0:
        return np.zeros((0, 3), dtype=np.int64)
    ids = relation_ids[t[:, 1]]
    out = np.stack([t[:, 0], t[:, 2], ids], axis=1)
    inc = np.stack([t[:, 2], t[:, 0], in_edge_ids(ids)], axis=1)
    return np.concatenate([out, inc]).astype(np.int64)


def in_edge_ids(out_ids: np.ndarray) -> np.ndarray:
    """The in-edge vocabulary id of each out-edge id: the next id, but the unknown relation's
    (0) stays 0 (it has no direction)."""
    return np.where(out_ids == 0, 0, out_ids + 1)


@dataclass
class Vocab:
    """Relation and type vocabularies plus the centroids used to infer types."""

    relations: list[str]
    types: list[str]
    type_centroids: np.ndarray | None  # float32 (n_types-1, n_relations) when types are inferred

    @property
    def inferred_types(self) -> bool:
        return self.type_centroids is not None

    _known_ids: dict[tuple[str, ...], np.ndarray] = field(
        default_factory=dict, init=False, repr=False, compare=False)

    def relation_ids(self, graph: Graph) -> np.ndarray:
        """Out-edge vocabulary id per graph relation (unknown → 0; in-edge id is out id + 1).

        The answers for the last few relation lists are kept: the engine asks with its two
        mirrors' lists, alternately, for every local graph it builds, and mapping their
        thousands of URIs cost ≈ 11 ms a call (DBP15K zh_en), four calls per micro-batch —
        keeping only the last list missed every time (decision 0058)."""
        key = tuple(graph.relations)
        ids = self._known_ids.get(key)
        if ids is None:
            index = {name: i for i, name in enumerate(self.relations)}
            ids = np.array([index.get(relation_key(r) + ">", 0) for r in key], dtype=np.int64)
            oldest = next(iter(self._known_ids), None)  # a mirror's list grew: drop the
            if len(self._known_ids) >= KNOWN_RELATION_LISTS and oldest is not None:  # oldest
                self._known_ids.pop(oldest, None)  # (a restore's two threads may drop it both)
            self._known_ids[key] = ids
        return ids.copy()

    def type_ids(self, graph: Graph, edges: np.ndarray) -> np.ndarray:
        """Type id per entity: the given type string, or the nearest signature centroid."""
        if self.type_centroids is None:
            index = {name: i for i, name in enumerate(self.types)}
            return np.array([index.get(t, 0) for t in graph.types], dtype=np.int64)
        sig = unit_rows(signatures(graph.num_entities, edges, len(self.relations)))
        nearest = np.asarray((sig @ self.type_centroids.T).argmax(axis=1)).ravel() + 1
        has_edges = np.asarray(sig.sum(axis=1)).ravel() > 0
        return np.where(has_edges, nearest, 0).astype(np.int64)


def signatures(n: int, edges: np.ndarray, n_relations: int) -> sp.csr_matrix:
    """Binary entity × relation-with-direction matrix: the "shape" of an entity's edges."""
    data = np.ones(len(edges), dtype=np.float32)
    m = sp.csr_matrix((data, (edges[:, 0], edges[:, 2])), shape=(n, n_relations))
    m.data[:] = 1.0
    return m


def build_vocab(a: Graph, b: Graph, n_clusters: int, seed: int) -> Vocab:
    """Relations of both graphs; given types, or k-means clusters of relation signatures."""
    bases = sorted({relation_key(r) for g in (a, b) for r in g.relations})
    names = [base + d for base in bases for d in "><"]
    vocab = Vocab(relations=[UNKNOWN, *names], types=[UNKNOWN], type_centroids=None)
    given = sorted({t for g in (a, b) for t in g.types if t})
    if given:
        vocab.types = [UNKNOWN, *given]
        return vocab
    from sklearn.cluster import KMeans  # training only: the service never clusters
    from sklearn.preprocessing import normalize

    sigs = [signatures(g.num_entities, directed_edges(g, vocab.relation_ids(g)), len(names) + 1)
            for g in (a, b)]
    stacked = normalize(sp.vstack(sigs).tocsr())
    rows = stacked[np.asarray(stacked.sum(axis=1)).ravel() > 0]
    k = max(1, min(n_clusters, rows.shape[0]))
    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(rows)
    vocab.type_centroids = normalize(km.cluster_centers_).astype(np.float32)
    vocab.types = [UNKNOWN, *(f"cluster{i}" for i in range(k))]
    return vocab
