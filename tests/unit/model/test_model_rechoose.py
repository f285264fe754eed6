"""Self-training rounds that choose every pseudo pair again (decision 0052): the seeds stay,
the pseudo anchors are replaced, a dropped round restores the ones before it."""

from __future__ import annotations

import pytest

from stream_align.model.bootstrap import bootstrap
from stream_align.model.inputs import fit_frozen
from stream_align.model.settings import FeatureSettings, SamplingSettings, TrainSettings
from stream_align.model.train import train
from tests.unit.model.model_synthetic import synthetic_pair, valid_outcome
from tests.unit.model.scripted_rounds import ARCH, scripted_rounds


def _settings(**update: object) -> TrainSettings:
    return TrainSettings(**{"epochs": 1, "batch_size": 64, "progress": False,
                            "bootstrap_rounds": 1, **update})


def test_a_rechosen_round_replaces_the_pseudo_anchors() -> None:
    """With ``seeds`` a round chooses among every non-seed entity again (the last round's
    pseudo anchors included) and its pairs replace theirs; the seeds stay first."""
    pair = synthetic_pair(films=40, hide_names=True)
    settings = TrainSettings(epochs=1, batch_size=64, progress=False, bootstrap_by_head=True)
    bundle, _ = train(pair, settings, ARCH, sampling=SamplingSettings(fanout=5))
    seeds = list(bundle.frozen.anchors)
    first = bootstrap(bundle, pair, 1)[0]
    old = set(bundle.frozen.anchors[len(seeds):])
    again = bootstrap(bundle, pair, 1, seeds=len(seeds))[0]
    new = bundle.frozen.anchors[len(seeds):]
    assert first > 0 and again == len(new) > 0 and bundle.frozen.anchors[:len(seeds)] == seeds
    assert set(new) & old  # an adding round could only pair entities the first left free
    valid_keys = {pair.a.keys[i] for i in pair.valid[:, 0]} | {pair.b.keys[j]
                                                                for j in pair.valid[:, 1]}
    assert not valid_keys & {k for p in new for k in p}
    assert len({a for a, _ in new}) == len({b for _, b in new}) == len(new)
    weight = bundle.net.anchor_emb.weight.detach()
    assert weight.shape[0] == len(bundle.frozen.anchors) + 1
    assert weight[len(seeds):].abs().sum() == 0


def test_a_dropped_rechosen_round_restores_the_pseudo_anchors_before_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = [valid_outcome(share) for share in (0.5, 0.6, 0.0)]  # round 2 is dropped:
    # 6 of 10 lost, none gained, a fall to both guards
    after, bundle, report = scripted_rounds(
        monkeypatch, outcomes, _settings(bootstrap_rounds=2, bootstrap_rechoose=True))
    assert len(after) == 2 and after[0] != after[1]
    assert bundle.frozen.anchors == after[0] and len(report.bootstrap_added) == 1
    assert bundle.net.anchor_emb.weight.shape[0] == len(after[0]) + 1


def test_replaced_anchors_of_the_same_count_are_indexed_again() -> None:
    pair = synthetic_pair(films=10, hide_names=True)
    frozen = fit_frozen(pair, FeatureSettings(), SamplingSettings(fanout=5))
    frozen.set_anchors(0, [("a:1", "b:1"), ("a:2", "b:2")])
    assert frozen.anchor_index(0) == {"a:1": 0, "a:2": 1}
    frozen.set_anchors(1, [("a:3", "b:3")])  # the same count, another pair
    assert frozen.anchor_index(0) == {"a:1": 0, "a:3": 1}
    assert frozen.anchor_index(1) == {"b:1": 0, "b:3": 1}
