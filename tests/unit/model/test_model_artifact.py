"""Save → load gives identical scores; corrupt or incompatible artifacts fail with ModelError."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from stream_align.model.artifact import CONFIG, WEIGHTS, _version, load, save
from stream_align.model.errors import ModelError
from stream_align.model.quantiser import fit_quantisers, held
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


def test_the_pair_head_is_fitted_recorded_and_reloaded(trained) -> None:
    """Training fits the pair head (decision 0024); ``config.json`` records it, load reads it
    back and the probabilities it gives are the same."""
    pair, bundle, path = trained
    assert bundle.pair_head is not None
    config = json.loads((path / CONFIG).read_text())
    assert config["pair_head"]["weights"] == list(bundle.pair_head.weights)
    assert load(path).pair_head == bundle.pair_head
    scores = ModelScorer(bundle, pair).score_pairs(pair, pair.test)
    assert ((scores > 0) & (scores < 1)).all()


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


def test_retrieval_dim_is_recorded_and_is_the_vector_width(trained) -> None:
    """The engine sizes its index from ``retrieval_dim``: the config, the bundle and the
    vectors agree, and the default architecture's vector fits 256 floats."""
    pair, bundle, path = trained
    config = json.loads((path / CONFIG).read_text())
    scorer = ModelScorer(load(path), pair)
    assert config["retrieval_dim"] == bundle.retrieval_dim == scorer.query.shape[1]
    assert scorer.base.shape[1] == bundle.retrieval_dim
    assert bundle.retrieval_dim == 3 * 16 + sum(bundle.arch.skip_widths)
    default = ArchitectureSettings()
    assert 3 * default.hidden_dim + sum(default.skip_widths) <= 256


def test_artifact_without_skip_widths_reads_raw_fixed_blocks(trained, tmp_path: Path) -> None:
    """An artifact from before the projections (no ``skip_widths`` in its architecture) is
    read with the raw fixed blocks, not the compact default."""
    pair = synthetic_pair(films=30)
    arch = ArchitectureSettings(hidden_dim=16, skip_widths=None)
    bundle, _ = train(pair, TrainSettings(epochs=1, batch_size=64, progress=False), arch)
    path = tmp_path / "old"
    save(bundle, path)
    config = json.loads((path / CONFIG).read_text())
    del config["architecture"]["skip_widths"], config["retrieval_dim"]
    config.pop("version")
    tensors = load_file(str(path / WEIGHTS))
    (path / CONFIG).write_text(json.dumps({**config, "version": _version(config, tensors)}))
    loaded = load(path)
    assert loaded.arch.skip_widths is None
    assert loaded.retrieval_dim == bundle.retrieval_dim == 3 * 16 + 512 * 2 + 1024


def test_ivf_quantisers_are_part_of_the_model(trained, tmp_path: Path) -> None:
    """The IVF ladder (decision 0080) is fitted on the training graphs' retrieval vectors,
    saved with the weights, part of the version, and read back to the bit; an artifact
    without one (written before) still loads, with an empty ladder."""
    pair, bundle, path = trained
    assert load(path).quantisers == {}  # saved without: an artifact from before 0080
    with_cells = load(path)
    with_cells.quantisers = fit_quantisers(with_cells, pair)
    cells = sorted(with_cells.quantisers)
    assert cells and cells == [4 << i for i in range(len(cells))]
    dim = with_cells.retrieval_dim
    assert all(c.shape == (n, dim) for n, c in with_cells.quantisers.items())
    assert save(with_cells, tmp_path / "m") != bundle.version  # the cells are the model's
    loaded = load(tmp_path / "m")
    assert loaded.version == with_cells.version
    assert sorted(loaded.quantisers) == cells
    assert all(np.array_equal(loaded.quantisers[n], with_cells.quantisers[n]) for n in cells)
    again = fit_quantisers(load(path), pair)  # deterministic: the same model, the same cells
    assert all(np.array_equal(again[n], with_cells.quantisers[n]) for n in cells)


def test_ivf_quantisers_skip_entities_the_graphs_hold_nothing_for(trained) -> None:
    """A continual dataset's later entities (no triple, name, type or attribute in the
    training graphs) all share one empty vector; the ladder is fitted without them, so
    appending ten times the graph's size of them changes neither the rungs nor the cells
    (decision 0100: k-means split that one point into cells nothing served falls in)."""
    pair, _, path = trained
    extra = 10 * pair.b.num_entities
    b = dataclasses.replace(pair.b, keys=pair.b.keys + [f"later/{i}" for i in range(extra)],
                            names=pair.b.names + [""] * extra,
                            types=pair.b.types + [""] * extra,
                            attributes=pair.b.attributes + [{} for _ in range(extra)])
    grown = dataclasses.replace(pair, b=b)
    assert held(b).sum() == held(pair.b).sum() == pair.b.num_entities - int(
        (~held(pair.b)).sum())
    assert not held(b)[pair.b.num_entities:].any()
    plain, with_later = fit_quantisers(load(path), pair), fit_quantisers(load(path), grown)
    assert sorted(with_later) == sorted(plain)
    assert all(np.allclose(with_later[n], plain[n], atol=1e-5) for n in plain)


def test_artifact_before_0101_reads_its_names_permuted(trained, tmp_path: Path) -> None:
    """``train`` writes ``name_block`` "own" (decision 0101); an artifact without the field
    (trained before) is read "permuted", so its vectors and scores stay what they were, and
    they are not the vectors the same weights give with the fixed block."""
    pair, bundle, path = trained
    config = json.loads((path / CONFIG).read_text())
    assert config["features"]["name_block"] == "own" == load(path).frozen.features.name_block
    del config["features"]["name_block"]
    config.pop("version")
    tensors = load_file(str(path / WEIGHTS))
    old = tmp_path / "old"
    _copy(path, old)
    (old / CONFIG).write_text(json.dumps({**config, "version": _version(config, tensors)}))
    loaded = load(old)
    assert loaded.frozen.features.name_block == "permuted"
    permuted = ModelScorer(loaded, pair)
    as_trained = ModelScorer(bundle, pair)
    assert not np.array_equal(permuted.query, as_trained.query)
    same = dataclasses.replace(bundle, frozen=dataclasses.replace(  # names read permuted
        bundle.frozen, features=loaded.frozen.features))
    assert np.array_equal(ModelScorer(same, pair).query, permuted.query)
