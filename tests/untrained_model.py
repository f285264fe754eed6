"""A small freshly initialised model, for tests that need a model but not a trained one
(the engine's unit tests, the service's hostile-input test): seconds instead of a training run."""

from __future__ import annotations

from typing import Literal

import torch

from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import CGMuAlign
from stream_align.model.inputs import fit_frozen
from stream_align.model.quantiser import fit_quantisers
from stream_align.model.settings import (
    ArchitectureSettings,
    FeatureSettings,
    SamplingSettings,
    TrainSettings,
)


def untrained_bundle(pair: GraphPair, seed: int = 0, structure_dim: int = 0,
                     cross_attention: bool = True,
                     name_block: Literal["own", "permuted"] = "own") -> ModelBundle:
    """A small freshly initialised model (inferred types: the synthetic graphs have none);
    ``structure_dim`` > 0 adds the structure-only track's fixed 2-hop blocks;
    ``name_block`` "permuted": its own names read as an artifact before decision 0101."""
    torch.manual_seed(seed)
    frozen = fit_frozen(pair, FeatureSettings(name_dim=64, attr_dim=32, numeric_dim=4,
                                              inferred_types=3, name_block=name_block),
                        SamplingSettings(fanout=3))
    arch = ArchitectureSettings(hidden_dim=16, structure_dim=structure_dim,
                                cross_attention=cross_attention)
    net = CGMuAlign(frozen, arch, "hinge")
    net.eval()
    bundle = ModelBundle(net=net, frozen=frozen, arch=arch, train=TrainSettings(),
                         version="test-untrained")
    bundle.quantisers = fit_quantisers(bundle, pair)  # IVF cells, as `train` fits them (0080)
    return bundle
