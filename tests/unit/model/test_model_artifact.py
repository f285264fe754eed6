"""Save → load gives identical scores; corrupt or incompatible artifacts fail with ModelError."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stream_align.model.artifact import CONFIG, WEIGHTS, load, save
from stream_align.model.errors import ModelError
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import ArchitectureSettings, TrainSettings
from stream_align.model.train import train
from tests.unit.model.model_synthetic import synthetic_pair


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    pair = synthetic_pair(films=30)
    bundle, _ = train(pair, TrainSettings(epochs=2, batch_size=64, progress=False),
                      ArchitectureSettings(hidden_dim=16))
    path = tmp_path_factory.mktemp("model")
    save(bundle, path)
    return pair, bundle, path


def test_save_load_gives_identical_scores(trained) -> None:
    pair, bundle, path = trained
    loaded = load(path)
    assert loaded.version == bundle.version
    src, tgt = pair.test[:, 0], pair.test[:, 1]
    before = ModelScorer(bundle, pair)
    after = ModelScorer(loaded, pair)
    assert np.array_equal(before.similarity(pair, src, tgt), after.similarity(pair, src, tgt))
    assert np.array_equal(before.score_pairs(pair, pair.test), after.score_pairs(pair, pair.test))


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in (CONFIG, WEIGHTS):
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def test_truncated_weights_raise_model_error(trained, tmp_path: Path) -> None:
    path = _copy(trained[2], tmp_path / "m")
    data = (path / WEIGHTS).read_bytes()
    (path / WEIGHTS).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="corrupt"):
        load(path)


def test_flipped_weight_byte_fails_the_content_hash(trained, tmp_path: Path) -> None:
    path = _copy(trained[2], tmp_path / "m")
    data = bytearray((path / WEIGHTS).read_bytes())
    data[-5] ^= 0xFF
    (path / WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="content hash"):
        load(path)


def test_incompatible_format_and_missing_files(trained, tmp_path: Path) -> None:
    path = _copy(trained[2], tmp_path / "m")
    config = json.loads((path / CONFIG).read_text())
    (path / CONFIG).write_text(json.dumps({**config, "format_version": 99}))
    with pytest.raises(ModelError, match="not supported"):
        load(path)
    with pytest.raises(ModelError, match="not a model artifact"):
        load(tmp_path / "nowhere")


def test_bad_dims_in_config_are_incompatible(trained, tmp_path: Path) -> None:
    """A config that no longer matches the weights (hand-edited, version recomputed)."""
    from stream_align.model import artifact

    path = _copy(trained[2], tmp_path / "m")
    config = json.loads((path / CONFIG).read_text())
    config.pop("version")
    config["architecture"]["hidden_dim"] = 32
    tensors = artifact.load_file(str(path / WEIGHTS))
    config["version"] = artifact._version(config, tensors)
    (path / CONFIG).write_text(json.dumps(config))
    with pytest.raises(ModelError, match="incompatible"):
        load(path)
