"""Session fixtures of the service tests: one synthetic dataset and one model trained on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from synthetic_dataset import write_synthetic_dataset

from stream_align.cli import main


@pytest.fixture(scope="session")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("data") / "synthetic")


@pytest.fixture(scope="session")
def model_dir(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model") / "model"
    assert main(["train", "--dataset", str(dataset), "--out", str(out), "--epochs", "3",
                 "--hidden-dim", "16", "--threads", "1"]) == 0
    return out
