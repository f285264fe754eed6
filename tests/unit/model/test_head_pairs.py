"""Self-training pairs by the pair head (decision 0049): candidates, mutual best, the round."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from stream_align.model import bootstrap as bootstrap_module
from stream_align.model.bootstrap import bootstrap
from stream_align.model.head_pairs import (
    candidate_pairs,
    head_logits,
    head_mutual_best,
    mutual_best_pairs,
)
from stream_align.model.pair_fit import fit_pair_head
from stream_align.model.settings import ArchitectureSettings, SamplingSettings, TrainSettings
from stream_align.model.train import train
from tests.unit.model.model_synthetic import synthetic_pair


def test_candidate_pairs_are_each_sides_k_best_without_repeats() -> None:
    qa = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6]])
    eb = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    pairs = candidate_pairs(qa, eb, 1)
    # forward: 0→0, 1→1, 2→0; backward: 0←0, 1←1 (one pair each way is the same pair)
    assert pairs.tolist() == [[0, 0], [1, 1], [2, 0]]
    assert len(candidate_pairs(qa, eb, 2)) == 6


def test_mutual_best_keeps_pairs_both_sides_prefer() -> None:
    pairs = np.array([[0, 0], [0, 1], [1, 0], [1, 1], [2, 1]])
    # 0 prefers 1, 1 prefers 0; column 0 prefers row 1, column 1 prefers row 2 (2.0 > 1.5)
    logits = np.array([0.5, 1.5, 1.0, 0.2, 2.0])
    lefts, rights = mutual_best_pairs(pairs, logits)
    assert lefts.tolist() == [1, 2] and rights.tolist() == [0, 1]
    empty = mutual_best_pairs(np.zeros((0, 2), dtype=np.int64), np.zeros(0))
    assert len(empty[0]) == 0 and len(empty[1]) == 0


def _trained():
    pair = synthetic_pair(films=40, hide_names=True)
    settings = TrainSettings(epochs=1, batch_size=64, progress=False, bootstrap_by_head=True)
    arch = ArchitectureSettings(hidden_dim=16, name_skip=False, anchor_skip_dim=0,
                                structure_dim=64)
    bundle, _ = train(pair, settings, arch, sampling=SamplingSettings(fanout=5))
    return pair, bundle


def test_head_pairs_are_mutual_best_by_the_heads_own_scores() -> None:
    pair, bundle = _trained()
    inputs = bundle.inputs(pair.a), bundle.inputs(pair.b)
    head = fit_pair_head(bundle, pair, inputs)
    assert head is not None
    free = (np.arange(pair.a.num_entities)[::2], np.arange(pair.b.num_entities)[1::2])
    vectors = (torch.randn(len(free[0]), 8), torch.randn(len(free[1]), 8))
    rows, cols = head_mutual_best(bundle, head, inputs, free, vectors)
    assert len(rows) and len(set(rows.tolist())) == len(rows) == len(set(cols.tolist()))
    # Each kept pair beats every other candidate pair of its left and of its right.
    pairs = candidate_pairs(*vectors, 10)
    logits = head_logits(bundle, head, *inputs, free[0][pairs[:, 0]], free[1][pairs[:, 1]])
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        mine = logits[(pairs[:, 0] == r) & (pairs[:, 1] == c)][0]
        assert mine >= logits[pairs[:, 0] == r].max() and mine >= logits[pairs[:, 1] == c].max()


def test_a_round_by_the_head_freezes_its_pairs_outside_validation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    pair, bundle = _trained()
    chosen: list[int] = []
    real = bootstrap_module.head_mutual_best

    def spy(*args):
        rows, cols = real(*args)
        chosen.append(len(rows))
        return rows, cols

    monkeypatch.setattr(bootstrap_module, "head_mutual_best", spy)
    before = len(bundle.frozen.anchors)
    added = bootstrap(bundle, pair, rounds=1)
    assert chosen == added and added[0] > 0
    valid = {pair.a.keys[i] for i in pair.valid[:, 0]} | {pair.b.keys[j] for j in pair.valid[:, 1]}
    assert not valid & {k for p in bundle.frozen.anchors[before:] for k in p}
    # Off, the round takes the retrieval vector's mutual nearest and never asks the head.
    bundle.train = bundle.train.model_copy(update={"bootstrap_by_head": False})
    bootstrap(bundle, pair, rounds=1)
    assert len(chosen) == 1
