"""Structural blocks: what they see, what they never see, and exact local recompute with them."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from stream_align.cli.train import _architecture, _train_settings, register
from stream_align.engine.affected import SampleIndex
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.recompute import encode_local, row_vectors
from stream_align.graph import Graph
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import CGMuAlign, initial_scales
from stream_align.model.inputs import fit_frozen
from stream_align.model.readout import retrieval_vectors
from stream_align.model.sampling import Neighbourhood
from stream_align.model.settings import (
    ArchitectureSettings,
    FeatureSettings,
    SamplingSettings,
    TrainSettings,
)
from stream_align.model.structure import KINDS, structure_skips
from tests.unit.model.model_synthetic import synthetic_pair

torch.set_num_threads(1)


def _hood(edges: list[tuple[int, int, int]], n: int, k: int = 4) -> Neighbourhood:
    nbr, rel, mask = np.full((n, k), n), np.zeros((n, k), dtype=np.int64), np.zeros((n, k), bool)
    fill = [0] * n
    for x, y, r in edges:
        nbr[x, fill[x]], rel[x, fill[x]], mask[x, fill[x]] = y, r, True
        fill[x] += 1
    return Neighbourhood(nbr=nbr, rel=rel, mask=mask)


def test_own_anchor_never_appears_and_paths_reach_two_hops() -> None:
    # 0 —1→ 1 —2→ 2, and back edges; entity 0 and entity 2 are anchors 0 and 1.
    hood = _hood([(0, 1, 1), (1, 0, 2), (1, 2, 1), (2, 1, 2)], n=3)
    anchors = np.array([0, 2, 1])  # 2 = no anchor (n_anchors = 2)
    blocks = {kind: block.dense()
              for kind, block in zip(KINDS, structure_skips(anchors, 2, hood, dim=64),
                                     strict=True)}
    # 0's only 1-hop neighbour (1) is no anchor; its 2-hop paths are 0→1→0 (itself: dropped)
    # and 0→1→2 (anchor 1).
    assert blocks["a1"][0].abs().sum() == 0
    assert int((blocks["a2"][0] != 0).sum()) == 1  # anchor 1 only, not its own anchor 0
    # 1 sees both anchors at one hop; 0 and 2 see the same single anchor-free neighbour 1.
    assert blocks["a1"][1].abs().sum() > 0
    # 0 and 2 reach different anchors at two hops: their a2 blocks differ.
    assert not torch.allclose(blocks["a2"][0], blocks["a2"][2])
    for block in blocks.values():  # unit or zero rows
        norms = block.norm(dim=1)
        assert torch.all(((norms - 1).abs() < 1e-5) | (norms == 0))


def test_same_sampled_neighbourhood_gives_the_same_blocks() -> None:
    # 0 and 3 both link to anchor-bearing 1 under relation 5; 4 links to it under relation 6.
    hood = _hood([(0, 1, 5), (3, 1, 5), (4, 1, 6), (1, 2, 1)], n=5)
    anchors = np.array([9, 0, 1, 9, 9])  # n_anchors = 9
    blocks = {kind: block.dense()
              for kind, block in zip(KINDS, structure_skips(anchors, 9, hood, dim=256),
                                     strict=True)}
    for kind in KINDS:
        assert torch.equal(blocks[kind][0], blocks[kind][3])
    assert torch.equal(blocks["a1"][0], blocks["a1"][4])  # same anchor...
    assert float(blocks["ra1"][0] @ blocks["ra1"][4]) < 0.5  # ...under another relation


def _mirror(graph: Graph) -> MutableGraph:
    mirror = MutableGraph(graph.label, graph.label)
    for i, key in enumerate(graph.keys):
        mirror.upsert(key, graph.types[i], dict(graph.attributes[i]))
    for h, r, t in graph.triples.tolist():
        mirror.add_triple(h, mirror.relation_id(graph.relations[r]), t)
    return mirror


@pytest.mark.parametrize("joint", [False, True])
def test_local_recompute_with_structure_blocks_equals_full_encode(joint: bool) -> None:
    """Raw blocks, and (decision 0037) the eight blocks projected into one shared block."""
    pair = synthetic_pair(films=40, hide_names=True)
    torch.manual_seed(0)
    frozen = fit_frozen(pair, FeatureSettings(name_dim=32, attr_dim=16, numeric_dim=4),
                        SamplingSettings(fanout=3))
    widths = {"skip_widths": (16,), "structure_joint": True} if joint else {}
    arch = ArchitectureSettings(hidden_dim=16, name_skip=False, anchor_skip_dim=0,
                                structure_dim=32, **widths)
    net = CGMuAlign(frozen, arch, "hinge").eval()
    blocks = 1 if joint else len(KINDS)
    assert net.block_raw.shape[0] == len(initial_scales(arch)) == 3 + blocks
    assert net.retrieval_dim == 3 * 16 + (16 if joint else 32 * len(KINDS))
    bundle = ModelBundle(net=net, frozen=frozen, arch=arch, train=TrainSettings())
    with torch.no_grad():
        inputs = bundle.inputs(pair.a)
        assert len(inputs.skips) == len(KINDS)
        full = retrieval_vectors(net, inputs, net.encode(inputs), query=True).numpy()
    samples = SampleIndex(_mirror(pair.a), frozen)
    samples.refresh(range(pair.a.num_entities))
    nodes = np.random.default_rng(0).choice(pair.a.num_entities, 40, replace=False).tolist()
    local = encode_local(bundle, samples, nodes)
    got = row_vectors(bundle, local, local.rows(nodes), query=True)
    assert np.abs(got - full[nodes]).max() < 1e-5
    assert np.abs(full[nodes, 3 * 16:]).sum() > 0  # the structural blocks are not all zero


def test_train_command_defaults_names_hidden_to_one_joint_block_of_256_floats() -> None:
    """``stream-align train --hide-names``: the eight blocks share one projected block that
    fills 256 floats (decision 0037); ``raw`` and eight widths keep the older layouts."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())

    def arch(*flags: str) -> ArchitectureSettings:
        return _architecture(parser.parse_args(["train", "--dataset", "d", "--out", "m",
                                                *flags]))

    hidden = arch("--hide-names")
    assert hidden.structure_joint and hidden.fixed_blocks == 1
    assert 3 * hidden.hidden_dim + sum(hidden.skip_widths or ()) == 256
    assert arch("--hide-names", "--skip-widths", "raw").skip_widths is None
    per_block = arch("--hide-names", "--skip-widths", ",".join(["26"] * len(KINDS)))
    assert not per_block.structure_joint and per_block.fixed_blocks == len(KINDS)
    assert not arch().structure_joint and arch().skip_widths == (112, 64, 32)


def test_train_command_refits_the_projections_after_each_round() -> None:
    """Decision 0041: 5 passes of the projections' refit after each self-training round with
    names, 10 with names hidden (besides decision 0037's pre-fit); a flag overrides both."""
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())

    def train(*flags: str) -> TrainSettings:
        return _train_settings(parser.parse_args(["train", "--dataset", "d", "--out", "m",
                                                  *flags]))

    assert (train().refit_epochs, train().projection_epochs) == (5, 0)
    assert (train("--hide-names").refit_epochs, train("--hide-names").projection_epochs) == (10, 10)
    assert train("--refit-epochs", "0").refit_epochs == 0
    assert train().bootstrap_csls_k == 0 and train("--bootstrap-csls-k", "3").bootstrap_csls_k == 3
    # Decision 0049: self-training pairs by the pair head with names hidden only.
    assert not train().bootstrap_by_head and train("--hide-names").bootstrap_by_head
    assert not train("--hide-names", "--no-bootstrap-by-head").bootstrap_by_head
    assert train("--bootstrap-by-head").bootstrap_by_head
    # Decisions 0056, 0117: on both tracks a round is undone only for a fall beyond chance.
    assert train().bootstrap_guard == "sign-test"
    assert train("--hide-names").bootstrap_guard == "sign-test"
    assert train("--bootstrap-guard", "strict").bootstrap_guard == "strict"
    assert train("--hide-names", "--bootstrap-guard", "strict").bootstrap_guard == "strict"
    # Decision 0060: five self-training rounds with names hidden, two with names.
    assert (train().bootstrap_rounds, train("--hide-names").bootstrap_rounds) == (2, 5)
    assert train("--hide-names", "--bootstrap-rounds", "3").bootstrap_rounds == 3
