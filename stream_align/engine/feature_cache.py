"""Level-0 feature rows per entity, hashed once per entity version, kept as compact arrays.

Hashing character n-grams (then sklearn's ``HashingVectorizer``, now ``model.char_hash``) was
about 70% of the engine's local encodes on DBP15K zh_en: every local graph re-hashed the names
of its whole 2-hop closure. An entity's features are a function of its own name and attributes
only (``model.features``), so they are computed the first time a local graph or a pair view
needs them and reused until the entity changes — a change is seen by the entity's stamp:
:class:`MutableGraph` gives a node a new one on every upsert and delete.

No array object per entity: each held entity's sparse rows — names, attributes, then its
non-zero numbers — and the pair head's name-word and name-number keys are its five parts in a
:class:`PartRows` of int32 pairs (8 bytes a non-zero or key; 20 bytes of lengths and an 8-byte
last-use tick a node), with the stamp they were hashed at (8 bytes) in a node-indexed table. On
DBP15K names (≈ 41 non-zeros) that measured 0.61–0.71 KB an entity with the pool's slack
(the ``OrderedDict`` of row tuples this replaces took ≈ 1.2 KB, and held 65,536 entities a
graph). Bounded by ``capacity`` entities, least recently used out down to ``capacity`` (one
partition over the held ticks); the default holds a graph of 2M entities, because an evicted
entity is hashed again (≈ 17 µs a name) each time a view or a closure reaches it, and past the
bound that grows with the graph (decision 0078).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from stream_align.arrays import grown
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.part_rows import PartRows, csr_block
from stream_align.model.features import Level0, level0
from stream_align.model.inputs import Frozen
from stream_align.model.pair_head import NameKeys, name_keys

PARTS = 5
"""Blocks per entity: its sparse rows of names, attributes and non-zero numbers (column, float32
bits), then its name-word and name-number keys for the pair head (a ``uint64`` as two int32)."""


class FeatureCache:
    """Level-0 rows of one graph's entities, keyed by node and valid for one entity stamp."""

    def __init__(self, graph: MutableGraph, frozen: Frozen, capacity: int) -> None:
        self.graph, self.frozen, self.capacity = graph, frozen, capacity
        f = frozen.features
        self._dims = (f.name_dim, f.attr_dim, f.numeric_dim)
        self._rows = PartRows(PARTS, capacity)
        self._stamp = np.zeros(0, dtype=np.int64)  # the stamp a held row was hashed at
        self.hashed = 0  # entities hashed, a running count

    @property
    def held(self) -> int:
        """Entities whose rows are held."""
        return self._rows.held

    def __len__(self) -> int:
        return self.held

    def level0(self, glob: np.ndarray, read: int | None = None) -> Level0:
        """Features of a local graph cut from the mirror (row ``r`` is node ``glob[r]``);
        with ``read``, only its first ``read`` rows — the others stay empty (zero rows: the
        caller never reads what they feed, ``recompute``)."""
        n = len(glob)
        nodes = self._held(np.asarray(glob[:n if read is None else read], dtype=np.int64))
        names, attrs, numbers = self._rows.csrs(nodes, list(self._dims), n)
        numeric = np.zeros((n, self._dims[2]), dtype=np.float32)
        rows = np.repeat(np.arange(n), np.diff(numbers.indptr))
        numeric[rows, numbers.indices] = numbers.data
        self._rows.evict()
        return Level0(names=names, attrs=attrs, numeric=numeric)

    def names(self, glob: np.ndarray) -> sp.csr_matrix:
        """The ``names`` block of :meth:`level0` alone (the pair head reads nothing else)."""
        nodes = self._held(np.asarray(glob, dtype=np.int64))
        out = self._rows.csr(nodes, 0, self._dims[0], len(glob))
        self._rows.evict()
        return out

    def name_keys(self, glob: np.ndarray) -> NameKeys:
        """The pair head's name-word and name-number keys of ``glob`` (``name_keys`` of each
        node's name: a regular expression and a CRC-32 a word, kept with the rows)."""
        nodes = self._held(np.asarray(glob, dtype=np.int64))
        (words, word_counts), (nums, num_counts) = (self._rows.cut(nodes, p) for p in (3, 4))
        out = NameKeys(word_counts, _keys(words), num_counts, _keys(nums))
        self._rows.evict()
        return out

    def _held(self, nodes: np.ndarray) -> np.ndarray:
        """``nodes``, each now held at its current stamp (the stale ones hashed) and used."""
        if not len(nodes):
            return nodes
        size = int(nodes.max()) + 1
        self._rows.fit(size)
        self._stamp = grown(self._stamp, size, 0)
        stamps = self.graph.stamps(nodes)
        stale = nodes[self._rows.missing(nodes) | (self._stamp[nodes] != stamps)]
        if len(stale):
            self._keep(np.unique(stale))
        self._rows.touch(nodes)
        return nodes

    def _keep(self, nodes: np.ndarray) -> None:
        """Hash ``nodes`` (distinct) from the mirror and hold their rows."""
        sub, _ = self.graph.local_graph(nodes, np.zeros((0, 3), dtype=np.int64))
        f = self.frozen
        feats = level0(sub, f.features, f.name_idf, f.attr_idf)
        numbers = sp.csr_matrix(feats.numeric.view(np.int32))  # non-zero bits (-0.0 kept)
        numbers = sp.csr_matrix((numbers.data.view(np.float32), numbers.indices,
                                 numbers.indptr), shape=numbers.shape)
        keys = NameKeys.of([name_keys(name) for name in sub.names])
        blocks = [csr_block(m) for m in (feats.names, feats.attrs, numbers)]
        blocks += [(np.concatenate([[0], np.cumsum(counts)]), k.view(np.int32).reshape(-1, 2))
                   for counts, k in ((keys.word_counts, keys.word_keys),
                                     (keys.num_counts, keys.num_keys))]
        self._rows.keep(nodes, blocks)
        self._stamp[nodes] = self.graph.stamps(nodes)
        self.hashed += len(nodes)

    def nbytes(self) -> int:
        """Bytes held: the pool (with garbage and free room) and the node-indexed tables."""
        return self._rows.nbytes() + self._stamp.nbytes


def _keys(rows: np.ndarray) -> np.ndarray:
    """``uint64`` keys from their pool rows (low, high int32 halves)."""
    return np.ascontiguousarray(rows).view(np.uint64).ravel()
