"""One side's share of ``AlignmentEngine.restore``: its samples and stored vectors, then the
live nodes left without a vector queued for recompute.

Apart from the engine because each step reads one side and the store only: ``restore_side``
runs on either restore thread (``side_pair``) and touches nothing the other side's thread
does; ``queue_missing`` writes the shared queue and delta, so the engine calls it for one side
after the other.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from stream_align.arrays import lookup
from stream_align.engine import levelwise
from stream_align.engine.delta import StateDelta
from stream_align.engine.progress import Progress
from stream_align.engine.queue import DeferredQueue
from stream_align.engine.scoring import side_view
from stream_align.engine.side import Side
from stream_align.engine.state_source import StateSource
from stream_align.engine.view_cache import BUILD_ROWS
from stream_align.model.bundle import ModelBundle

RESTORE_CHUNK = 16_384
"""Nodes a restore samples at a time: every node is sampled, and 4,096 (a batch's chunk) cost
≈ 20 % more at 40K a side (the neighbours shared by chunks are read again; decision 0067)."""
WARM_BLOCK = levelwise.BLOCK
"""Nodes whose ``h1`` :func:`warm_side` computes at a time (with the ``h0`` rows below them)."""


def restore_side(side: Side, source: StateSource, version: str, cells: np.ndarray | None,
                 anchored: bool, progress: Progress) -> None:
    """One side's samples and vectors (``cells``: each node's stored IVF cell, or ``None``
    where the lists are rebuilt), and with shared-anchor heads (``anchored``) its key tables
    looked up once, so the heads then read both sides' at once with nothing left to fill
    lazily."""
    progress(f"restore {side.graph.label}: samples", 0, 1)
    side.samples.restore(side.graph.alive_indices(), chunk=RESTORE_CHUNK)
    load_embeddings(side, source, version, cells, progress)
    load_level1(side, source, version, progress)
    if anchored:
        side.warm_keys()


def load_embeddings(side: Side, source: StateSource, version: str, cells: np.ndarray | None,
                    progress: Progress) -> None:
    """Index the side's stored vectors of model ``version`` (IVF: into ``cells``, ``-1``
    unknown); a vector of another version keeps its FAISS id and waits for its recompute."""
    progress(f"restore {side.graph.label}: embeddings", 0, 1)
    rows = source.embeddings(side.graph.graph_id, version)
    nodes = side.graph.index.nodes_of(rows.keys)
    known = (nodes >= 0) & (rows.faiss_ids >= 0)
    for node, fid in zip(nodes[known & ~rows.current].tolist(),
                         rows.faiss_ids[known & ~rows.current].tolist(), strict=True):
        side.unindexed[node] = fid  # another model version: recomputed under its id
    take = known & rows.current
    if take.any():  # ``vectors`` holds the current rows only
        side.load_vectors(nodes[take].tolist(), rows.faiss_ids[take],
                          rows.vectors[take[rows.current]],
                          None if cells is None else lookup(cells, nodes[take], -1))


def load_level1(side: Side, source: StateSource, version: str, progress: Progress) -> None:
    """Keep the side's stored ``h1`` rows of model ``version`` as the storing engine kept
    them (decision 0135); a live node without one (a state written before, or another
    version) is computed by the warm step or when first read."""
    progress(f"restore {side.graph.label}: h1 rows", 0, 1)
    rows = source.level1_rows(side.graph.graph_id, version)
    nodes = side.graph.index.nodes_of(rows.keys)
    known = nodes >= 0
    known[known] = side.graph.alive_mask(nodes[known])
    side.level1.load(nodes[known], rows.rows[known], rows.current[known])


def queue_missing(side: Side, s: int, queue: DeferredQueue, delta: StateDelta) -> None:
    """Queue side ``s``'s live nodes without a vector (after ``load_embeddings``), in node
    order: one array test for all, a Python step only for the few without."""
    queued = queue.queued(s)
    alive = np.asarray(side.graph.alive_indices(), dtype=np.int64)
    queue.enqueue(delta, s, [node for node in alive[side.faiss_ids(alive) < 0].tolist()
                             if node not in queued])


@torch.no_grad()  # per thread: a restore runs each side on its own (``side_pair``)
def warm_side(bundle: ModelBundle, side: Side, limit: int, progress: Progress) -> int:
    """Compute ahead what the first batch after a restart would otherwise compute in its
    latency path: the level-0 features (hashed names, name keys; ``FeatureCache``) and the
    ``h1`` row (``level1_cache``) of at most ``limit`` live nodes without a stored row, the
    most sampled first (every local graph and pair score reads its samples' rows). A restore
    kept neither, so the first refresh hashed the names and encoded the level-1 closures of
    every entity its pairs reach (DBP15K zh_en, 63 inserts: ≈ 9,600 entities, most of that
    call's CPU; decision 0104). With the rows stored (decision 0135) nothing is left to warm,
    and the features are hashed where first read.

    ``h1`` is computed level-wise (``levelwise.level1``), one row a node, as a large
    recompute's chunk does; a local encode at first use gives the same rows but for float
    rounding (decision 0095), within what a restart reproduces. Bounded: ``limit`` nodes'
    features (with their samples', the rows below their ``h1``) and ``h1`` rows; the ``h0``
    rows used on the way are dropped. The rows computed here are stored with the next
    delta. Returns the nodes warmed."""
    nodes = np.asarray(side.level1.missing(side.graph.alive_indices()), dtype=np.int64)
    if not limit or not len(nodes):
        return 0
    if len(nodes) > limit:
        nodes = np.sort(_most_sampled(side, nodes, limit))
    for start in range(0, len(nodes), WARM_BLOCK):
        progress(f"restore {side.graph.label}: warm", start, len(nodes))
        part = nodes[start:start + WARM_BLOCK]
        side.level1.put(part, levelwise.level1(bundle, side, part))
    side.level0.clear()
    return len(nodes)


def _most_sampled(side: Side, nodes: np.ndarray, limit: int) -> np.ndarray:
    """The ``limit`` of ``nodes`` that most nodes sample (ties: lower node first), counted over
    every node's slots a block at a time (``int64 (n, k)`` per block, not per graph)."""
    counts = np.zeros(int(nodes.max()) + 1, dtype=np.int64)
    for start in range(0, len(nodes), RESTORE_CHUNK):
        nbr, _ = side.samples.slot_table(nodes[start:start + RESTORE_CHUNK])
        counts += np.bincount(nbr[nbr >= 0], minlength=len(counts))[:len(counts)]
    order = np.argsort(-counts[nodes], kind="stable")
    return nodes[order[:limit]]


def warm_views(bundle: ModelBundle, side: Side, other: Side, limit: int,
               progress: Progress) -> int:
    """Build ahead the pair-head view rows (``ViewCache``) of at most ``limit`` (and the
    cache's capacity) live nodes, those most listed by the other side's lists first: a view is
    read whenever a pair of its entity is re-scored, and a node's pairs are mostly the lists
    that hold it. A restore keeps none, so the first refresh after a restart built the view of
    nearly every entity its pairs reached (DBP15K zh_en, 218–264 inserts: 24,000–26,000 views;
    decision 0104). A view row is the same bytes built now or later (``view_cache``): nothing
    scored changes. Built :data:`view_cache.BUILD_ROWS` at a time (the builder's transients)."""
    nodes = np.asarray(side.graph.alive_indices(), dtype=np.int64)
    keep = min(limit, side.views.capacity)
    if not keep or not len(nodes):
        return 0
    if len(nodes) > keep:
        at, _ = other.listed_by.of(nodes)
        listers = np.bincount(at, minlength=len(nodes))
        nodes = np.sort(nodes[np.argsort(-listers, kind="stable")[:keep]])
    build = partial(side_view, bundle, side)
    for start in range(0, len(nodes), BUILD_ROWS):
        progress(f"restore {side.graph.label}: warm views", start, len(nodes))
        side.views.view(nodes[start:start + BUILD_ROWS], build)
    return len(nodes)
