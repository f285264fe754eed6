"""Level-0 feature rows per entity, hashed once per entity version.

Hashing character n-grams (sklearn's ``HashingVectorizer``) was about 70% of the engine's local
encodes on DBP15K zh_en: every local graph re-hashed the names of its whole 2-hop closure. An
entity's features are a function of its own name and attributes only (``model.features``), so
they are computed the first time a local graph needs them and reused until the entity changes —
a change is seen by the entity's stamp: :class:`MutableGraph` gives a node a new one on every
upsert and delete.

It is a cache, not state: bounded to ``capacity`` entities, least recently used first out
(≈ 1.2 KB an entity — a few small arrays each — so unbounded it was the engine's fifth-largest
structure per entity; at 65,536 entities a side it holds ≈ 80 MB whatever the graph size). An
evicted entity is hashed again when a local graph next needs it.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import scipy.sparse as sp

from stream_align.engine.mutable_graph import MutableGraph
from stream_align.graph import Graph
from stream_align.model.features import Level0, level0
from stream_align.model.inputs import Frozen

_Row = tuple[np.ndarray, np.ndarray]  # indices, values of one sparse row


_Entry = tuple[int, _Row, _Row, np.ndarray]  # stamp, names, attrs, numeric


class FeatureCache:
    """Level-0 rows of one graph's entities, keyed by node and valid for one entity stamp."""

    def __init__(self, graph: MutableGraph, frozen: Frozen, capacity: int) -> None:
        self.graph, self.frozen, self.capacity = graph, frozen, capacity
        self._rows: OrderedDict[int, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rows)

    def level0(self, local: Graph, glob: np.ndarray, read: int | None = None) -> Level0:
        """Features of a local graph cut from the mirror (row ``r`` is node ``glob[r]``);
        with ``read``, only its first ``read`` rows — the others stay empty (zero rows: the
        caller never reads what they feed, ``recompute``)."""
        n = len(glob)
        rows = self._entries(local, glob[:n if read is None else read])
        f = self.frozen.features
        numeric = np.zeros((n, f.numeric_dim), dtype=np.float32)
        if rows:
            numeric[:len(rows)] = np.stack([e[3] for e in rows])
        return Level0(names=_stack([e[1] for e in rows], f.name_dim, n),
                      attrs=_stack([e[2] for e in rows], f.attr_dim, n), numeric=numeric)

    def names(self, local: Graph, glob: np.ndarray) -> sp.csr_matrix:
        """The ``names`` block of :meth:`level0` alone (the pair head reads nothing else: its
        views stacked the attribute and numeric rows of every sampled neighbour for nothing)."""
        return _stack([e[1] for e in self._entries(local, glob)], self.frozen.features.name_dim)

    def _entries(self, local: Graph, glob: np.ndarray) -> list[_Entry]:
        """The cached rows of each node of ``glob`` (the stale ones hashed from ``local``)."""
        nodes = glob.tolist()
        stamps, cached = self.graph.stamps(glob).tolist(), self._rows
        found: dict[int, _Entry] = {}
        stale = []
        for r, g in enumerate(nodes):
            entry = cached.get(g)
            if entry is not None and entry[0] == stamps[r]:
                cached.move_to_end(g)
                found[g] = entry
            else:
                stale.append(r)
        if stale:
            found.update(self._compute(local, nodes, stale, stamps))
        return [found[g] for g in nodes]

    def _compute(self, local: Graph, nodes: list[int], rows: list[int], stamps: list[int]
                 ) -> dict[int, _Entry]:
        """Hash the ``rows`` of ``local`` (``stamps``: each node's stamp, by row); cache them
        (evicting the least recently used)."""
        sub = Graph(label=local.label, keys=[local.keys[r] for r in rows],
                    names=[local.names[r] for r in rows], types=[local.types[r] for r in rows],
                    attributes=[local.attributes[r] for r in rows], relations=local.relations,
                    triples=np.zeros((0, 3), dtype=np.int64))
        feats = level0(sub, self.frozen.features, self.frozen.name_idf, self.frozen.attr_idf)
        out = {}
        for i, r in enumerate(rows):
            g = nodes[r]
            out[g] = self._rows[g] = (stamps[r], _row(feats.names, i),
                                      _row(feats.attrs, i), feats.numeric[i].copy())
            self._rows.move_to_end(g)
        while len(self._rows) > self.capacity:
            self._rows.popitem(last=False)
        return out


def _row(m: sp.csr_matrix, i: int) -> _Row:
    lo, hi = m.indptr[i], m.indptr[i + 1]
    return m.indices[lo:hi].copy(), m.data[lo:hi].copy()


def _stack(rows: list[_Row], dim: int, height: int | None = None) -> sp.csr_matrix:
    """The CSR matrix with these rows (what ``level0`` returns for the same entities), and
    empty rows below them up to ``height``."""
    height = len(rows) if height is None else height
    if not rows:
        return sp.csr_matrix((height, dim), dtype=np.float32)
    indices, data = zip(*rows, strict=True)
    indptr = np.zeros(height + 1, dtype=np.int64)
    np.cumsum([len(i) for i in indices], out=indptr[1:len(rows) + 1])
    indptr[len(rows) + 1:] = indptr[len(rows)]
    return sp.csr_matrix((np.concatenate(data).astype(np.float32, copy=False),
                          np.concatenate(indices), indptr), shape=(height, dim))
