"""A trained model as one object: weights, frozen data, settings and the version they hash to."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stream_align.graph import Graph
from stream_align.model.encoder import CGMuAlign
from stream_align.model.features import Level0
from stream_align.model.inputs import Frozen, GraphInputs, graph_inputs
from stream_align.model.pair_head import PairHead
from stream_align.model.settings import ArchitectureSettings, TrainSettings


@dataclass
class ModelBundle:
    """What training produces, the artifact stores and every scorer loads."""

    net: CGMuAlign
    frozen: Frozen
    arch: ArchitectureSettings
    train: TrainSettings
    version: str = "untrained"
    #: Where the model was trained (dataset name, loader seed, hidden names): entity keys and
    #: seed anchors only mean the same thing when a graph is loaded the same way.
    provenance: dict[str, object] = field(default_factory=dict)
    #: Scores candidate pairs from full-resolution evidence (decision 0024); ``None``: the
    #: model's own pair score decides (artifacts from before, or a head that could not be fit).
    pair_head: PairHead | None = None
    #: IVF coarse quantisers, ``{cells: (cells, retrieval_dim) float32 centroids}``, trained on
    #: the training graphs' retrieval vectors (decision 0080): the engine's IVF cells are a
    #: function of the model, not of the stream. Empty: an artifact from before (IVF refused).
    quantisers: dict[int, np.ndarray] = field(default_factory=dict)
    _anchor_index: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)

    @property
    def retrieval_dim(self) -> int:
        """Width of the retrieval vector (``float32``): graph A's query rows and graph B's
        base rows, whose inner product is the retrieval score; the ``h2`` block sits at
        columns ``[2 d, 3 d)`` (``d = arch.hidden_dim``), where pair scoring swaps it."""
        return self.net.retrieval_dim

    def anchor_index(self, side: int) -> dict[str, int]:
        """Entity key → seed anchor id on graph A (``side`` 0) or B (1), built once."""
        if side not in self._anchor_index:
            self._anchor_index[side] = {p[side]: k for k, p in enumerate(self.frozen.anchors)}
        return self._anchor_index[side]

    def inputs(self, graph: Graph, feats: Level0 | None = None,
               hashes: np.ndarray | None = None, read: int | None = None,
               anchors: np.ndarray | None = None) -> GraphInputs:
        """Encoder inputs of ``graph`` under this model's frozen features and sampling
        (``feats``: its level-0 rows, ``hashes``: its keys' ``sampling.key_hashes`` under the
        model's salt, ``anchors``: their seed anchor ids, when the caller has them cached;
        ``read``: ``graph_inputs``)."""
        hops = self.arch.name_skip_hops if self.arch.name_skip else None
        anchor_dim = self.arch.anchor_skip_dim if self.arch.use_anchors else 0
        structure_dim = self.arch.structure_dim if self.arch.use_anchors else 0
        return graph_inputs(graph, self.frozen, hops, anchor_dim, structure_dim, feats=feats,
                            hashes=hashes, read=read, anchors=anchors)
