"""Exact recompute of some nodes' model states on a small local graph.

For nodes ``D`` the encoder reads the closure ``L = D ∪ S(D) ∪ S(S(D))`` (see ``affected``). A
local :class:`Graph` holding the summary triples of every ``L`` node gives each of them its full-
graph type and sample, so ``bundle.inputs(local)`` and ``net.encode`` reproduce the full-graph
rows of ``D`` (to float rounding: the tests hold them within 1e-5). Rows outside ``L`` (summary
endpoints) are computed on partial edges and never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

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
                 features: FeatureCache | None = None, beat: Beat = no_beat) -> LocalEncoding:
    """Exact levels 0–1 of ``nodes`` and of every node their last layer reads (level-0 rows
    from ``features`` where given, else hashed here); ``beat`` between the steps (a chunk of
    tens of thousands of nodes takes seconds each)."""
    closure = samples.closure(nodes)
    ordered = list(nodes) + sorted(closure.difference(nodes))
    beat()
    local, glob = samples.graph.local_graph(ordered, samples.summary_triples(ordered))
    beat()
    inputs = bundle.inputs(local, None if features is None else features.level0(local, glob))
    beat()
    exact = samples.closure(nodes, hops=1)
    level1 = np.flatnonzero(np.fromiter((g in exact for g in glob.tolist()), dtype=bool,
                                        count=len(glob)))
    return LocalEncoding(nodes=list(nodes), globals=glob, inputs=inputs,
                         enc=bundle.net.encode(inputs), level1=level1)


@torch.no_grad()
def row_vectors(bundle: ModelBundle, local: LocalEncoding, rows: torch.Tensor,
                query: bool) -> np.ndarray:
    """``float32 (len(rows), D)`` retrieval vectors (graph A queries with ``query=True``)."""
    net, g = bundle.net, local.inputs
    if len(rows) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    parts = net.parts(g, local.enc, rows, net.retrieval_h2(g, local.enc, rows))
    return net.vectors(parts, query).numpy().astype(np.float32)
