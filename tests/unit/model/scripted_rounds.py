"""Self-training rounds on a synthetic graph with the guard's measurements scripted, for the
tests of what a kept or a dropped round leaves behind."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.model import train as train_module
from stream_align.model.bundle import ModelBundle
from stream_align.model.settings import ArchitectureSettings, SamplingSettings, TrainSettings
from stream_align.model.train import TrainReport, train
from tests.unit.model.model_synthetic import synthetic_pair

ARCH = ArchitectureSettings(hidden_dim=16, name_skip=False, anchor_skip_dim=0, structure_dim=64)


def scripted_rounds(monkeypatch: pytest.MonkeyPatch, outcomes: list[np.ndarray],
                    settings: TrainSettings
                    ) -> tuple[list[list[tuple[str, str]]], ModelBundle, TrainReport]:
    """Trains with the guard's per-pair validation outcomes given in turn (before the rounds,
    then after each); returns the anchors right after each round, the bundle and the report."""
    pair = synthetic_pair(films=40, hide_names=True)
    outcome = iter(outcomes)
    monkeypatch.setattr(train_module, "valid_right", lambda *_: next(outcome))
    after: list[list[tuple[str, str]]] = []
    real = train_module.bootstrap

    def recording(bundle, pair, rounds, inputs=None, seeds=None):
        added = real(bundle, pair, rounds, inputs, seeds)
        after.append(list(bundle.frozen.anchors))
        return added

    monkeypatch.setattr(train_module, "bootstrap", recording)
    bundle, report = train(pair, settings, ARCH, sampling=SamplingSettings(fanout=5))
    return after, bundle, report
