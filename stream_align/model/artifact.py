"""Model artifacts: a directory with ``weights.safetensors`` and ``config.json``. No pickle.

The model version is a content hash of the config and every tensor (weights and frozen
statistics). Loading recomputes it, so a truncated, edited or mixed-up artifact is refused with
a :class:`ModelError` instead of producing quietly wrong scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import CGMuAlign
from stream_align.model.errors import ModelError
from stream_align.model.inputs import Frozen, content_hash
from stream_align.model.pair_head import PairHead
from stream_align.model.settings import (
    ArchitectureSettings,
    FeatureSettings,
    SamplingSettings,
    TrainSettings,
)
from stream_align.model.vocab import Vocab

FORMAT = "stream-align/cg-mualign"
FORMAT_VERSION = 1
WEIGHTS, CONFIG = "weights.safetensors", "config.json"
QUANTISER = "ivf.cells."
"""Tensor name prefix of the IVF quantiser of each cell count (decision 0080); artifacts
written before carry none, and older code reading a newer artifact ignores them."""


def _tensors(bundle: ModelBundle) -> dict[str, torch.Tensor]:
    f = bundle.frozen
    out = {f"net.{k}": v.detach().contiguous() for k, v in bundle.net.state_dict().items()}
    out["frozen.name_idf"] = torch.from_numpy(f.name_idf)
    out["frozen.attr_idf"] = torch.from_numpy(f.attr_idf)
    out.update({f"frozen.avg.{label}": torch.from_numpy(a) for label, a in f.avg_counts.items()})
    if f.vocab.type_centroids is not None:
        out["frozen.type_centroids"] = torch.from_numpy(f.vocab.type_centroids)
    out.update({f"{QUANTISER}{cells}": torch.from_numpy(np.ascontiguousarray(c, np.float32))
                for cells, c in bundle.quantisers.items()})
    return out


def _config(bundle: ModelBundle) -> dict[str, Any]:
    f = bundle.frozen
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "features": f.features.model_dump(), "sampling": f.sampling.model_dump(),
        "architecture": bundle.arch.model_dump(), "train": bundle.train.model_dump(),
        "relations": f.vocab.relations, "types": f.vocab.types,
        "anchors": [list(p) for p in f.anchors], "provenance": bundle.provenance,
        "retrieval_dim": bundle.retrieval_dim,
        **({} if bundle.pair_head is None else {"pair_head": bundle.pair_head.to_config()}),
    }


def _version(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> str:
    parts = [json.dumps(config, sort_keys=True).encode()]
    for name in sorted(tensors):
        parts += [name.encode(), tensors[name].numpy().tobytes()]
    return content_hash(parts)


def save(bundle: ModelBundle, path: Path) -> str:
    """Write the artifact directory; returns (and sets) the model version."""
    path.mkdir(parents=True, exist_ok=True)
    tensors, config = _tensors(bundle), _config(bundle)
    bundle.version = _version(config, tensors)
    save_file(tensors, str(path / WEIGHTS), metadata={"version": bundle.version})
    (path / CONFIG).write_text(json.dumps({**config, "version": bundle.version}, indent=1))
    return bundle.version


def _read(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        config = json.loads((path / CONFIG).read_text(encoding="utf-8"))
        tensors = load_file(str(path / WEIGHTS))
    except FileNotFoundError as exc:
        raise ModelError(f"{path}: not a model artifact ({exc.filename} missing)") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, SafetensorError, OSError) as exc:
        raise ModelError(f"{path}: corrupt model artifact: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ModelError(f"{path}: not a {FORMAT} artifact")
    if config.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path}: artifact format {config.get('format_version')} is not "
                         f"supported (this code reads {FORMAT_VERSION}); retrain or upgrade")
    return config, tensors


def _frozen(config: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Frozen:
    centroids = tensors.get("frozen.type_centroids")
    vocab = Vocab(relations=list(config["relations"]), types=list(config["types"]),
                  type_centroids=None if centroids is None else centroids.numpy())
    avg = {k.rsplit(".", 1)[1]: v.numpy() for k, v in tensors.items()
           if k.startswith("frozen.avg.")}
    # Before decision 0101 the own-names block held each name's weights permuted.
    features = FeatureSettings(**{"name_block": "permuted", **config["features"]})
    return Frozen(features=features,
                  sampling=SamplingSettings(**config["sampling"]), vocab=vocab,
                  name_idf=tensors["frozen.name_idf"].numpy().astype(np.float32),
                  attr_idf=tensors["frozen.attr_idf"].numpy().astype(np.float32),
                  avg_counts=avg, anchors=[(a, b) for a, b in config["anchors"]])


def load(path: Path) -> ModelBundle:
    """Read and verify an artifact; any inconsistency raises :class:`ModelError`."""
    path = Path(path)
    config, tensors = _read(path)
    version = config.pop("version", None)
    if version != _version(config, tensors):
        raise ModelError(f"{path}: content hash does not match version {version!r} "
                         "(corrupt or edited artifact)")
    try:
        frozen = _frozen(config, tensors)
        # Before decision 0015 the fixed blocks entered the vector unprojected.
        arch = ArchitectureSettings(**{"skip_widths": None, **config["architecture"]})
        train = TrainSettings(**config["train"])
        net = CGMuAlign(frozen, arch, train.loss)
        head = PairHead.from_config(config.get("pair_head"))
        net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        if config.get("retrieval_dim", net.retrieval_dim) != net.retrieval_dim:
            raise ValueError(f"retrieval_dim {config['retrieval_dim']} is not the "
                             f"architecture's {net.retrieval_dim}")
    except (KeyError, TypeError, ValueError, ValidationError, RuntimeError) as exc:
        raise ModelError(f"{path}: incompatible model artifact: {exc}") from exc
    net.eval()
    quantisers = {int(k[len(QUANTISER):]): v.numpy() for k, v in tensors.items()
                  if k.startswith(QUANTISER)}
    return ModelBundle(net=net, frozen=frozen, arch=arch, train=train, version=version,
                       provenance=dict(config.get("provenance", {})), pair_head=head,
                       quantisers=quantisers)
