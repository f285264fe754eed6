"""The model's IVF quantiser ladder (decision 0080): rungs by the training vectors, a rung by
the indexed count."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.index import rung, train_ladder
from stream_align.index.ladder import LARGEST, rungs


def test_rungs_are_powers_of_two_the_training_vectors_allow() -> None:
    assert rungs(7) == []
    assert rungs(100) == [4, 8, 16, 32]
    assert rungs(38_960)[-1] == LARGEST == 8192  # zh_en's vectors reach the top rung
    assert rungs(10**9)[-1] == LARGEST


def test_train_ladder_is_deterministic() -> None:
    x = np.random.default_rng(0).standard_normal((200, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    one, two = train_ladder(x), train_ladder(x.copy())
    assert sorted(one) == [4, 8, 16, 32, 64]
    assert all(one[n].shape == (n, 8) and np.array_equal(one[n], two[n]) for n in one)


def test_a_rung_must_exist() -> None:
    with pytest.raises(ValueError, match="no IVF quantiser"):
        rung({}, 1000, 0)
    with pytest.raises(ValueError, match="not one of"):
        rung({4: np.zeros((4, 2))}, 1000, 8)
