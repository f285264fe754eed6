"""The own-names fixed block (decision 0101): each n-gram's weight under its own column for a
model trained since, the permuted block every earlier model was trained on for those."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from stream_align.model.features import level0
from stream_align.model.inputs import fit_frozen, graph_inputs, own_names
from stream_align.model.settings import FeatureSettings, SamplingSettings
from tests.unit.model.model_synthetic import synthetic_pair

OLD = FeatureSettings(name_block="permuted")


def _row(cols: list[int], vals: list[float]) -> sp.csr_matrix:
    return sp.csr_matrix((np.array(vals, dtype=np.float32), np.array(cols),
                          np.array([0, len(cols)])), shape=(1, 8))


def test_own_names_keeps_each_weight_under_its_column() -> None:
    """Hashed columns not ascending (5, 1, 3): the block holds 0.1 at 5, 0.2 at 1, 0.3 at 3;
    the permuted block (before 0101) holds the values in ascending column order under the
    hashed columns. Either way the matrix is left canonical with its own values."""
    names = _row([5, 1, 3], [0.1, 0.2, 0.3])
    want = torch.from_numpy(names.toarray())
    block = own_names(names, FeatureSettings()).dense()
    assert torch.equal(block, want)
    assert names.has_canonical_format and names.indices.tolist() == [1, 3, 5]
    assert torch.equal(torch.from_numpy(names.toarray()), want)
    old = own_names(_row([5, 1, 3], [0.1, 0.2, 0.3]), OLD).dense()
    assert old[0, 5] == np.float32(0.2) and old[0, 1] == np.float32(0.3)
    assert old[0, 3] == np.float32(0.1) and not torch.equal(old, want)
    ordered = _row([1, 3, 5], [0.2, 0.3, 0.1])  # ascending columns: both readings agree
    assert torch.equal(own_names(ordered.copy(), OLD).dense(), want)


def _blocks(features: FeatureSettings) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    pair = synthetic_pair(films=30)
    frozen = fit_frozen(pair, features, SamplingSettings(fanout=3))
    feats = level0(pair.a, features, frozen.name_idf, frozen.attr_idf)
    raw = feats.names.copy()
    inputs = graph_inputs(pair.a, frozen, 1, feats=feats)
    return (inputs.skips[0].dense(), torch.from_numpy(raw.toarray()),
            inputs.skips[1].dense())


def test_graph_inputs_own_names_block_is_the_name_vectors() -> None:
    """A new model's own-names block is the level-0 name vectors themselves (the block
    before 0101 was not, in most rows); the 1-hop block reads the same in both."""
    block, names, hop = _blocks(FeatureSettings())
    assert torch.equal(block, names)
    old, _, old_hop = _blocks(OLD)
    differ = (old != names).any(1)
    assert differ.float().mean() > 0.5  # most rows' hashed columns are not ascending
    # the same weights in each row, under other columns
    assert torch.equal(old.sort(1).values, names.sort(1).values)
    assert torch.equal(hop, old_hop)
