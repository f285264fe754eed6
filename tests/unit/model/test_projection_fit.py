"""The projections' pre-fit (decision 0037): it moves the fixed blocks' projections so the
seed pairs' fixed vectors line up, on a small synthetic graph with names hidden."""

from __future__ import annotations

import torch

from stream_align.model.encoder import CGMuAlign
from stream_align.model.inputs import GraphInputs, fit_frozen, graph_inputs
from stream_align.model.projection_fit import prefit_projection
from stream_align.model.settings import ArchitectureSettings, FeatureSettings, SamplingSettings
from tests.unit.model.model_synthetic import synthetic_pair


def _setup(learn: bool) -> tuple[CGMuAlign, GraphInputs, GraphInputs, torch.Tensor]:
    pair = synthetic_pair(films=60, hide_names=True)
    torch.manual_seed(0)
    frozen = fit_frozen(pair, FeatureSettings(name_dim=32, attr_dim=16, numeric_dim=4),
                        SamplingSettings(fanout=5))
    arch = ArchitectureSettings(hidden_dim=8, name_skip=False, anchor_skip_dim=0,
                                structure_dim=64, skip_widths=(16,), structure_joint=True,
                                learn_projection=learn)
    net = CGMuAlign(frozen, arch, "hinge")
    ga = graph_inputs(pair.a, frozen, None, 0, 64)
    gb = graph_inputs(pair.b, frozen, None, 0, 64)
    return net, ga, gb, torch.from_numpy(pair.train)


def test_prefit_lowers_the_contrastive_loss_and_moves_only_the_projections() -> None:
    net, ga, gb, pairs = _setup(learn=True)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    history = prefit_projection(net, ga, gb, pairs, epochs=15, batch_size=32,
                                gen=torch.Generator().manual_seed(0))
    assert len(history) == 15 and history[-1] < 0.8 * history[0]
    after = net.state_dict()
    moved = {k for k in before if not torch.equal(before[k], after[k])}
    assert moved and all(k.startswith("skip_proj.") for k in moved)
    vectors = net.fixed_vectors(ga, torch.arange(4))
    assert vectors.shape == (4, 16)


def test_prefit_does_nothing_with_a_fixed_projection() -> None:
    net, ga, gb, pairs = _setup(learn=False)
    assert prefit_projection(net, ga, gb, pairs, epochs=3, batch_size=32,
                             gen=torch.Generator().manual_seed(0)) == []
