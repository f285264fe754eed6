"""The self-training guard (decision 0056): ``strict`` undoes a round for any fall of
validation Hits@1, ``sign-test`` only for more losses than gains beyond chance."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.model.bundle import ModelBundle
from stream_align.model.round_guard import losses_beyond_chance, round_is_worse
from stream_align.model.settings import SamplingSettings, TrainSettings
from stream_align.model.train import TrainReport, train, valid_right
from tests.unit.model.model_synthetic import synthetic_pair
from tests.unit.model.scripted_rounds import ARCH, scripted_rounds


def test_the_sign_test_counts_only_the_pairs_that_changed() -> None:
    assert not losses_beyond_chance(0, 0)
    assert not losses_beyond_chance(1, 0)  # P = 1/2
    assert not losses_beyond_chance(4, 0)  # P = 1/16
    assert losses_beyond_chance(5, 0)  # P = 1/32
    assert losses_beyond_chance(10, 2)  # P = 79/4096
    assert not losses_beyond_chance(10, 5)  # P ≈ 0.15
    assert not losses_beyond_chance(3, 8)


def _right(n: int, rights: list[int]) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[rights] = True
    return out


def test_one_pair_lost_is_a_fall_only_to_the_strict_guard() -> None:
    before = _right(450, list(range(297)))  # 0.6600
    after = _right(450, [*range(2, 296), 400, 401])  # 3 lost, 2 gained: 0.6578
    assert round_is_worse(before, after, "strict")
    assert not round_is_worse(before, after, "sign-test")
    many = _right(450, [*range(20, 297), 400, 401])  # 20 lost, 2 gained
    assert round_is_worse(before, many, "strict") and round_is_worse(before, many, "sign-test")
    assert not round_is_worse(before, before, "strict")
    assert not round_is_worse(np.zeros(0, bool), np.zeros(0, bool), "sign-test")


def _rounds(monkeypatch: pytest.MonkeyPatch, outcomes: list[np.ndarray], guard: str,
            rounds: int) -> tuple[list[list[tuple[str, str]]], ModelBundle, TrainReport]:
    return scripted_rounds(monkeypatch, outcomes, TrainSettings(
        epochs=1, batch_size=64, progress=False, bootstrap_rounds=rounds,
        bootstrap_rechoose=True, bootstrap_by_head=True, bootstrap_guard=guard))


def test_a_round_inside_the_noise_is_kept_by_the_sign_test(
        monkeypatch: pytest.MonkeyPatch) -> None:
    base = _right(40, list(range(20)))
    one_lost = _right(40, list(range(1, 20)))
    after, bundle, report = _rounds(monkeypatch, [base, one_lost], "sign-test", 1)
    assert bundle.frozen.anchors == after[0] and len(report.bootstrap_added) == 1
    assert report.valid_hits1_after_bootstrap == pytest.approx(19 / 40)
    after, bundle, report = _rounds(monkeypatch, [base, one_lost], "strict", 1)
    assert bundle.frozen.anchors != after[0] and report.bootstrap_added == []
    assert report.valid_hits1_after_bootstrap == pytest.approx(0.5)


def test_the_sign_test_compares_with_the_best_round_so_rounds_cannot_drift_down(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rounds that each lose 2 of 40 are inside the noise one at a time (P = 1/4), but the
    third has lost 6 of the best state's pairs and gained none (P = 1/64): it is undone, the
    second (4 lost, P = 1/16) stays."""
    states = [_right(40, list(range(k, 30))) for k in (0, 2, 4, 6)]
    after, bundle, report = _rounds(monkeypatch, states, "sign-test", 3)
    assert len(after) == 3 and len(report.bootstrap_added) == 2
    assert bundle.frozen.anchors == after[1]
    assert report.valid_hits1_after_bootstrap == pytest.approx(26 / 40)


def test_the_report_is_the_validation_of_the_anchors_kept() -> None:
    """Unpatched: the guard's own measure of the returned model is the reported one."""
    pair = synthetic_pair(films=40, hide_names=True)
    settings = TrainSettings(epochs=1, batch_size=64, progress=False, bootstrap_rounds=2,
                             bootstrap_rechoose=True, bootstrap_by_head=True,
                             bootstrap_guard="sign-test", refit_epochs=2)
    bundle, report = train(pair, settings, ARCH, sampling=SamplingSettings(fanout=5))
    assert report.valid_hits1_after_bootstrap == pytest.approx(
        float(valid_right(bundle, pair).mean()))
    assert len(bundle.frozen.anchors) == len(pair.train) + (
        report.bootstrap_added[-1] if report.bootstrap_added else 0)
