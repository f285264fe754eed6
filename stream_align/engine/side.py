"""One graph's share of the engine: mirror, samples, FAISS index, candidate lists.

Vectors follow ``batch_align.candidates``: graph A indexes and searches with its *query*
vectors, graph B with its *base* vectors, so an inner product is the same retrieval score from
either side (BCE weights sit on A's side once). Each entity keeps a *list*: the best
``top_k + reserve`` entities of the other graph with their scores, and a ``bound`` no unlisted
entity's score exceeds; its first ``top_k`` are its candidates (``cands``). ``listed_by`` is the
lists' reverse. The reserve and the bound let a list whose members moved be repaired in place
(see ``candidate_lists``) instead of searched again.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from stream_align import setops
from stream_align.anchor_candidates import tie_keys
from stream_align.arrays import grown, lookup
from stream_align.engine.affected import SampleIndex
from stream_align.engine.delta import LevelOneRows, StateDelta, StoredVector
from stream_align.engine.feature_cache import FeatureCache
from stream_align.engine.level1_cache import LevelOneCache
from stream_align.engine.levelwise import LevelZeroRows
from stream_align.engine.list_repair import Found
from stream_align.engine.list_table import ListTable
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.probers import CellProbers
from stream_align.engine.view_cache import ViewCache
from stream_align.index import IvfVectorIndex, VectorIndex
from stream_align.model.inputs import Frozen

_MOVE_ROWS = 65_536
"""Vectors moved into a re-trained quantiser's cells at a time (≈ 64 MB decoded at 256
dimensions): both indexes are never whole at once."""


class FaissIds:
    """FAISS ids of both graphs from one counter the engine owns (restored from the store):
    ids are never reused, so a stale id left in an index cannot name another entity."""

    def __init__(self, first: int = 0) -> None:
        self.next = first

    def take(self, delta: StateDelta) -> int:
        """A fresh id; the delta carries the advanced counter with the row that uses it."""
        fid, self.next = self.next, self.next + 1
        delta.next_faiss_id = self.next
        return fid


class Side:
    """Engine state of one graph; ``query`` is True for graph A."""

    def __init__(self, graph: MutableGraph, frozen: Frozen, query: bool, normalise: bool,
                 feature_cache_entries: int, view_cache_entries: int = 0) -> None:
        self.graph, self.query, self.normalise = graph, query, normalise
        self.samples = SampleIndex(graph, frozen)
        self.features = FeatureCache(graph, frozen, feature_cache_entries)
        self.views = ViewCache(view_cache_entries)  # pair-head views (``scoring``)
        self.level1 = LevelOneCache()
        self.level0 = LevelZeroRows()  # ``h0`` a node while a level-wise recompute drains
        self.index: VectorIndex | IvfVectorIndex | None = None
        self.probers: CellProbers | None = None  # IVF mode: the cells my lists probe
        self._ivf: tuple[np.ndarray, int, bool] | None = None  # centroids, nprobe, float16
        self.unindexed: dict[int, int] = {}  # stored ids of vectors of another model version
        self._node_of = np.zeros(0, dtype=np.int64)  # FAISS id → node (arrays: scans read
        self._bound = np.zeros(0, dtype=np.float64)  # all of them) · node → list bound
        self._fid_of = np.zeros(0, dtype=np.int64)  # node → FAISS id (-1: none)
        self.count = 0  # entities with an indexed vector
        self.lists = ListTable()  # node → [(score, other), ...] best first
        self.cands = self.lists.heads  # node → the first top_k of its list
        self.listed_by = self.lists.listed_by  # other graph's node → my nodes listing it
        self._anchor_index = {p[0 if query else 1]: a for a, p in enumerate(frozen.anchors)}
        self._anchor_of = np.full(1, len(frozen.anchors), dtype=np.int64)  # node → anchor id
        self._anchor_node = np.full(len(frozen.anchors) + 1, -1, dtype=np.int64)  # and back
        self._tie = np.zeros(0, dtype=np.int64)  # node → key hash (shared-anchor candidates)
        self._cells_moved: list[np.ndarray] = []  # IVF: nodes whose cells moved (to store)

    def anchor_ids(self, nodes: np.ndarray) -> np.ndarray:
        """Seed anchor id of each node (``-1`` entries and non-anchors: the number of anchors).
        A node's key never changes, so each node is looked up once (8 bytes a node) — a pair
        refresh asks for its neighbours' and their neighbours' ids, ~100 per pair."""
        known, keys = len(self._anchor_of) - 1, self.graph.keys
        if known < len(keys):
            none = self._anchor_of[-1]
            new = np.fromiter((self._anchor_index.get(key, none) for key in keys[known:]),
                              dtype=np.int64, count=len(keys) - known)
            self._anchor_of = np.concatenate([self._anchor_of[:-1], new, [none]])
            has = np.flatnonzero(new < none)
            self._anchor_node[new[has]] = has + known
        return self._anchor_of[nodes]

    def anchor_nodes(self, anchors: np.ndarray) -> np.ndarray:
        """This graph's node of each anchor id (``-1``: no node has its key yet)."""
        self.anchor_ids(np.zeros(0, dtype=np.int64))  # every key known so far looked up
        return self._anchor_node[anchors]

    def warm_keys(self) -> None:
        """Every key looked up for :meth:`anchor_ids` and hashed for :meth:`tie_keys` now:
        a restore's two threads then only read them (each fills lazily, unguarded)."""
        none = np.zeros(0, dtype=np.int64)
        self.anchor_ids(none)
        self.tie_keys(none)

    def tie_keys(self, nodes: np.ndarray) -> np.ndarray:
        """Each node's key hash that orders equal shared-anchor shares (8 bytes a node,
        hashed once per node)."""
        known, keys = len(self._tie), self.graph.keys
        if known < len(keys):
            self._tie = np.concatenate([self._tie, tie_keys(keys[known:])])
        return self._tie[nodes]

    def put_vectors(self, delta: StateDelta, nodes: list[int], vectors: np.ndarray,
                    version: str, ids: FaissIds) -> None:
        """Index new vectors of ``nodes`` (an entity keeps its FAISS id) and record them."""
        if not nodes:
            return
        gid = self.graph.graph_id
        fids = self.faiss_ids(np.asarray(nodes, dtype=np.int64))
        for at, (node, vector) in enumerate(zip(nodes, vectors, strict=True)):
            if fids[at] < 0:
                fid = self.unindexed.pop(node, None)
                fids[at] = ids.take(delta) if fid is None else fid
            delta.embeddings[gid, self.graph.keys[node]] = StoredVector(int(fids[at]), vector,
                                                                        version)
        self.load_vectors(nodes, fids, vectors)

    def put_level1(self, delta: StateDelta, version: str) -> None:
        """Record the ``h1`` rows put, outdated or dropped since the last call (decision
        0135): the store keeps them as this engine does, so a restore computes none."""
        nodes, rows, current, kept = self.level1.take_written()
        if len(nodes):
            delta.level1[self.graph.graph_id] = LevelOneRows(
                version, self.graph.keys.take(nodes), rows, current, kept)

    def load_vectors(self, nodes: list[int], ids: np.ndarray, vectors: np.ndarray,
                     cells: np.ndarray | None = None) -> None:
        """Index vectors under their stored FAISS ids (restore, or after :meth:`put_vectors`);
        IVF: ``cells`` the stored cell of each vector (``-1``: assign it)."""
        if self.index is None:
            self.index = VectorIndex(vectors.shape[1], normalise=self.normalise) \
                if self._ivf is None else IvfVectorIndex(self._ivf[0], self._ivf[1],
                                                         self.normalise, self._ivf[2])
        if isinstance(self.index, IvfVectorIndex):
            before = self.index.cells_of(np.asarray(ids, dtype=np.int64))
            self.index.add(ids, vectors, cells=cells)
            moved = self.index.cells_of(np.asarray(ids, dtype=np.int64)) != before
            self.mark_cells(np.asarray(nodes, dtype=np.int64)[moved])
        else:
            self.index.add(ids, vectors)
        self._node_of = grown(self._node_of, int(ids.max()) + 1, -1)
        self._node_of[ids] = nodes
        top = max(nodes) + 1 if len(nodes) else 0
        self._fid_of = grown(self._fid_of, top, -1)
        self.count += int(np.count_nonzero(self._fid_of[nodes] < 0))
        self._fid_of[nodes] = ids

    def use_ivf(self, centroids: np.ndarray, nprobe: int, float16: bool) -> None:
        """Move the indexed vectors into IVF cells of ``centroids`` (frozen from now on),
        stored as half floats with ``float16``. The IVF index exists from here on even while
        this side has no vector: the other side's lists probe its cells all the same
        (``ivf_lists.search_own``)."""
        self._ivf = (centroids, nprobe, float16)
        self.probers = CellProbers(len(centroids), min(nprobe, len(centroids)))
        was = self.index
        self.index = IvfVectorIndex(centroids, nprobe, self.normalise, float16)
        if isinstance(was, VectorIndex) and len(was):
            ids, vectors = was.rows()
            self.index.add(ids.copy(), vectors.copy(), as_prepared=True)
            self.mark_cells(self._node_of[ids])
        elif isinstance(was, IvfVectorIndex) and len(was):  # re-trained (decision 0068)
            ids = was.ids()
            for lo in range(0, len(ids), _MOVE_ROWS):  # decoded as stored: the same codes
                part = ids[lo:lo + _MOVE_ROWS]
                self.index.add(part, was.reconstruct_many(part), as_prepared=True)
                was.remove(part)
            self.mark_cells(self._node_of[ids])

    def mark_cells(self, nodes: Iterable[int] | np.ndarray) -> None:
        """``nodes``' IVF cells (their own or their lists' probed ones) moved: their list rows,
        which carry them, are stored again (``candidate_state.changed_rows``)."""
        self._cells_moved.append(np.asarray(nodes, dtype=np.int64).ravel())

    def take_cells_changed(self) -> np.ndarray:
        """The nodes marked since the last call, ascending and distinct."""
        moved, self._cells_moved = self._cells_moved, []
        return setops.unique(np.concatenate(moved)) if moved else np.zeros(0, dtype=np.int64)

    def cell_rows(self, nodes: np.ndarray) -> np.ndarray:
        """``(len(nodes), 1 + nprobe)`` ``int32``: each node's own IVF cell, then the cells
        its list probes (``-1``: none)."""
        assert isinstance(self.index, IvfVectorIndex) and self.probers is not None
        fids = self.faiss_ids(nodes)
        own = np.full(len(nodes), -1, dtype=np.int64)
        own[fids >= 0] = self.index.cells_of(fids[fids >= 0])
        return np.column_stack([own, self.probers.rows(nodes)]).astype(np.int32)

    @property
    def ivf(self) -> bool:
        """Whether this side's vectors sit in IVF cells."""
        return self._ivf is not None

    def drop(self, delta: StateDelta, nodes: Iterable[int]) -> None:
        """Forget deleted entities: embedding, FAISS id, index row, candidate list."""
        gid = self.graph.graph_id
        nodes = list(nodes)
        self.level1.drop(nodes)
        if self.probers is not None:
            self.probers.drop(nodes)
        for node, fid in zip(nodes, self.faiss_ids(np.asarray(nodes, dtype=np.int64)).tolist(),
                             strict=True):
            if fid < 0:
                if self.unindexed.pop(node, None) is not None:
                    delta.embeddings[gid, self.graph.keys[node]] = None
                continue
            self._node_of[fid] = self._fid_of[node] = -1
            self.count -= 1
            delta.embeddings[gid, self.graph.keys[node]] = None
            if self.index is not None:
                self.index.remove(np.array([fid], dtype=np.int64))
            self.lists[node] = []
            if node < len(self._bound):
                self._bound[node] = -np.inf

    def vectors(self, nodes: list[int] | np.ndarray) -> np.ndarray:
        """Indexed vectors of ``nodes`` (as searched: normalised where the index normalises)."""
        assert self.index is not None  # only nodes with a FAISS id are asked for
        return self.index.reconstruct_many(self.faiss_ids(np.asarray(nodes, dtype=np.int64)))

    def stored_vectors(self, nodes: np.ndarray) -> np.ndarray:
        """:meth:`vectors` as the index stores them: half floats in an IVF index of
        half-float codes (the same values), else ``float32``."""
        ids = self.faiss_ids(np.asarray(nodes, dtype=np.int64))
        if isinstance(self.index, IvfVectorIndex):
            return self.index.stored_many(ids)
        return self.vectors(nodes)

    def drift(self, nodes: list[int] | np.ndarray, vectors: np.ndarray) -> np.ndarray:
        """Cosine distance (1 − cos, float64) of each new vector from its node's indexed
        version (``inf`` where a node has none): what ``vector_tolerance`` gates. Scale-free,
        so it reads the same whether or not the index normalises."""
        out = np.full(len(nodes), np.inf)
        nodes = np.asarray(nodes, dtype=np.int64)
        have = np.flatnonzero(self.faiss_ids(nodes) >= 0)
        if len(have):
            old = self.vectors(nodes[have]).astype(np.float64)
            new = np.asarray(vectors, dtype=np.float64)[have]
            norms = np.linalg.norm(old, axis=1) * np.linalg.norm(new, axis=1)
            out[have] = 1.0 - (old * new).sum(axis=1) / np.maximum(norms, 1e-300)
        return out

    def search(self, vectors: np.ndarray, k: int, cells: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Per query row, the nodes (``-1``: none) and scores of the top-``k`` of this graph,
        best first (IVF: among the vectors of ``cells``, each row's probed cells, or the
        query's own)."""
        if self.index is None or not len(self.index) or not len(vectors):
            return np.full((len(vectors), 0), -1, np.int64), np.zeros((len(vectors), 0),
                                                                     np.float32)
        if cells is not None and isinstance(self.index, IvfVectorIndex):
            scores, ids = self.index.search(vectors, k, (np.zeros(cells.shape, np.float32),
                                                         cells))
        else:
            scores, ids = self.index.search(vectors, k)
        return np.where(ids >= 0, self._node_of[np.maximum(ids, 0)], -1), scores

    def node_of(self, ids: np.ndarray) -> np.ndarray:
        """Nodes of indexed FAISS ids."""
        return self._node_of[ids]

    def nodes_named(self, ids: np.ndarray) -> np.ndarray:
        """Nodes of any FAISS ids (-1 for an id no indexed vector has)."""
        return lookup(self._node_of, ids, -1)

    def bound_of(self, node: int) -> float:
        """``node``'s list bound: no unlisted entity scores above it (``-inf``: no list)."""
        return float(self._bound[node]) if node < len(self._bound) else -np.inf

    def bounds(self, nodes: np.ndarray) -> np.ndarray:
        """Each node's list bound (``-inf`` where it has no list)."""
        return lookup(self._bound, nodes, -np.inf)

    def load_lists(self, nodes: np.ndarray, members: np.ndarray, scores: np.ndarray,
                   bounds: np.ndarray, k: int) -> None:
        """Set stored lists at once (restore; ``members`` ``-1`` past each list's end)."""
        self.lists.top_k = k
        self.lists.load(nodes, members, scores)
        if len(nodes):
            self._bound = grown(self._bound, int(nodes.max()) + 1, -np.inf)
            self._bound[nodes] = bounds

    def reserve_lists(self, nodes: np.ndarray) -> None:
        """Room for the lists of ``nodes`` at once (a rebuild sets them a chunk at a time)."""
        if len(nodes):
            self._bound = grown(self._bound, int(nodes.max()) + 1, -np.inf)
            self.lists.reserve(int(nodes.max()) + 1)

    def set_lists(self, found: Found, k: int) -> np.ndarray:
        """Replace the lists of ``found``'s owners; return the keys ``owner << 32 | other``
        of the pairs that entered or left their candidates (the first ``k``)."""
        self.lists.top_k = k
        if not len(found.owners):
            return np.zeros(0, dtype=np.int64)
        changed = self.lists.assign(found.owners, found.members, found.scores, found.lengths)
        self._bound = grown(self._bound, int(found.owners.max()) + 1, -np.inf)
        self._bound[found.owners] = np.where(found.lengths > 0, found.bounds, -np.inf)
        return changed

    def indexed(self) -> np.ndarray:
        """Every node with an indexed vector, ascending (a whole-side pass: rebuilds only)."""
        return np.flatnonzero(self._fid_of >= 0)

    def has_vector(self, node: int) -> bool:
        """Whether ``node`` has an indexed vector."""
        return node < len(self._fid_of) and self._fid_of[node] >= 0

    def with_vectors(self, nodes: Iterable[int]) -> np.ndarray:
        """The nodes of ``nodes`` with an indexed vector, ascending."""
        nodes = setops.unique(np.fromiter(nodes, dtype=np.int64))
        return nodes[self.faiss_ids(nodes) >= 0]

    def faiss_ids(self, nodes: np.ndarray) -> np.ndarray:
        """FAISS ids of ``nodes`` (``-1``: not indexed)."""
        return lookup(self._fid_of, np.asarray(nodes, dtype=np.int64), -1)

    def positions(self, nodes: np.ndarray) -> np.ndarray:
        """Each node's row in the flat index's ``rows()`` (``-1``: not indexed)."""
        assert isinstance(self.index, VectorIndex)
        return self.index.positions(self.faiss_ids(nodes))
