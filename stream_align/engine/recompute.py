"""Exact recompute of some nodes' model states on a small local graph.

For nodes ``D`` the encoder reads the closure ``L = D ∪ S(D) ∪ S(S(D))`` (see ``affected``). A
local :class:`Graph` holding the summary triples of every ``L`` node gives each of them its full-
graph type and sample, so ``bundle.inputs(local)`` and ``net.encode`` reproduce the full-graph
rows of ``D`` (to float rounding: the tests hold them within 1e-5). Rows outside ``L`` (summary
endpoints) are computed on partial edges and never read.

With the kept ``h1`` rows (``level1_cache``) the second hop is mostly not needed: the last layer
of ``D`` reads ``h1`` of ``D ∪ S(D)``, and a kept row is exact unless its node is *stale* — in
this batch's affected set or queued (every node whose ``h1`` changes is in the affected set of
that batch: ``affected``) — or was never kept. So only ``E = D ∪ (S(D) ∩ (stale ∪ unkept))``
is encoded, on the summaries of ``E ∪ S(E)``, and the other rows of ``S(D)`` are read from the
cache. A steady-state insert's ``D`` (≈ 11 nodes on DBP15K zh_en) then reads a few hundred
local rows instead of its ≈ 1,200-node closure; a bulk chunk, whose neighbours are all stale,
still encodes the whole closure.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from stream_align import setops
from stream_align.engine.affected import SampleIndex
from stream_align.engine.feature_cache import FeatureCache
from stream_align.engine.level1_cache import LevelOneCache
from stream_align.engine.progress import Beat, no_beat
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import Encoded
from stream_align.model.inputs import GraphInputs


@dataclass
class LocalEncoding:
    """Encoder states of a local graph whose first ``len(nodes)`` rows are exact."""

    nodes: list[int]  # global indices of rows 0..len(nodes)-1
    globals: np.ndarray  # global index per local row
    inputs: GraphInputs
    enc: Encoded
    level1: np.ndarray  # local rows whose h1 is exact too: the nodes and their samples

    def keep_level1(self, cache: LevelOneCache) -> None:
        """Hand the exact ``h1`` rows to ``cache`` (what pair scoring reads)."""
        cache.put(self.globals[self.level1], self.enc.h1[torch.from_numpy(self.level1)])

    def rows(self, nodes: Sequence[int]) -> torch.Tensor:
        """Local rows of ``nodes`` (each must be one of the exact ``self.nodes``)."""
        position = {g: r for r, g in enumerate(self.nodes)}
        return torch.tensor([position[g] for g in nodes], dtype=torch.int64)


@torch.no_grad()
def encode_local(bundle: ModelBundle, samples: SampleIndex, nodes: Sequence[int],
                 features: FeatureCache | None = None, beat: Beat = no_beat,
                 kept: tuple[LevelOneCache, Collection[int]] | None = None,
                 anchors: Callable[[np.ndarray], np.ndarray] | None = None) -> LocalEncoding:
    """Exact levels 0–1 of ``nodes`` and of every node their last layer reads (level-0 rows
    from ``features`` where given, else hashed here); ``beat`` between the steps (a chunk of
    tens of thousands of nodes takes seconds each). ``kept``: the kept ``h1`` rows and the
    stale nodes — neighbours with an exact kept row are read from it, not encoded.
    ``anchors``: each node's seed anchor id (``Side.anchor_ids``, kept per node); with it and
    ``features`` nothing reads the local graph's strings, so none is decoded (a steady
    insert's local graphs decoded ≈ 900 keys and names, decision 0091)."""
    encoded = _encoded(samples, nodes, kept)  # E: their h1 is computed (and exact) here
    summarised = samples.closure(encoded, hops=1) if kept else samples.closure(nodes)
    ordered = list(nodes) + sorted(summarised.difference(nodes))
    beat()
    texts = features is None or anchors is None
    local, glob = samples.graph.local_graph(ordered, samples.summary_triples(ordered), texts)
    beat()
    read = len(ordered) if kept and _names_within_one_hop(bundle) else None
    inputs = bundle.inputs(local, None if features is None else
                           features.level0(glob, read), samples.key_hashes(glob), read,
                           None if texts or anchors is None else anchors(glob))
    beat()
    enc = bundle.net.encode(inputs)
    if kept:  # the last layer's other rows: read from the cache
        reads = _rows_of(glob, samples.closure(nodes, hops=1).difference(encoded))
        if len(reads):
            enc.h1[torch.from_numpy(reads)] = kept[0].rows(glob[reads].tolist())[:-1]
    return LocalEncoding(nodes=list(nodes), globals=glob, inputs=inputs, enc=enc,
                         level1=_rows_of(glob, encoded))


def _names_within_one_hop(bundle: ModelBundle) -> bool:
    """Whether the rows past the summarised nodes ``L = E ∪ S(E)`` (the endpoints of their
    summaries, ≈ 80 % of a steady insert's local rows on DBP15K zh_en) feed nothing that is
    read, so their level-0 features, types and samples may stay empty.

    What is read of an encode with kept rows: the vectors of ``D`` and the ``h1`` of ``E``.
    A vector of ``D`` reads ``h0``/``h1`` of ``D``, ``h1`` of ``S(D)`` (computed in ``E`` or
    read from the cache) and its fixed blocks: its names, its neighbours' names per name-skip
    hop, its neighbours' anchors (key ids, not features). ``h1`` of ``E`` reads ``h0`` of
    ``E ∪ S(E) = L``. Every node of ``L`` has its summary here, so its type and sample are
    exact whatever its neighbours' features. So a row outside ``L`` is read only through a
    name skip of two or more hops (names of ``S(S(D))``, where ``S(D)`` holds kept rows):
    with at most one hop, nothing outside ``L`` is read. Each row of the encoder's products
    reads only its own inputs and its sampled neighbours', so ``L``'s rows come out the
    same, bit for bit (decision 0062)."""
    arch = bundle.arch
    return not arch.name_skip or arch.name_skip_hops <= 1


def _rows_of(glob: np.ndarray, nodes: set[int]) -> np.ndarray:
    """Local rows whose global node is in ``nodes`` (one sorted search, not a set test a
    row: the local graphs of a steady insert have hundreds of rows)."""
    if not nodes:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(setops.isin(glob, np.fromiter(nodes, dtype=np.int64,
                                                        count=len(nodes))))


def _encoded(samples: SampleIndex, nodes: Sequence[int],
             kept: tuple[LevelOneCache, Collection[int]] | None) -> set[int]:
    """``E``: the nodes whose ``h1`` is encoded here (all of ``D ∪ S(D)`` without ``kept``)."""
    if kept is None:
        return samples.closure(nodes, hops=1)
    cache, stale = kept
    neighbours = samples.closure(nodes, hops=1).difference(nodes)
    unkept = set(cache.missing(neighbours)) if neighbours else set()
    return set(nodes) | {y for y in neighbours if y in stale or y in unkept}


@torch.no_grad()
def row_vectors(bundle: ModelBundle, local: LocalEncoding, rows: torch.Tensor,
                query: bool) -> np.ndarray:
    """``float32 (len(rows), D)`` retrieval vectors (graph A queries with ``query=True``)."""
    net, g = bundle.net, local.inputs
    if len(rows) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    parts = net.parts(g, local.enc, rows, net.retrieval_h2(g, local.enc, rows))
    return net.vectors(parts, query).numpy().astype(np.float32)
