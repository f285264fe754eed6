"""Fitting the pair head (decision 0024) after training: validation pairs against their
retrieval candidates, both directions, every entity of the other graph competing — the pairs the
engine and the batch aligner score, so the head's probabilities are calibrated on them."""

from __future__ import annotations

import numpy as np
import torch

from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.inputs import GraphInputs
from stream_align.model.pair_head import GraphEvidence, PairHead, fit, pair_features
from stream_align.model.ranking import topk
from stream_align.model.readout import pair_logits, retrieval_vectors

#: Candidates per gold entity, each way (the engine's ``top_k`` default).
HEAD_K = 10
#: Below this many validation pairs the training pairs join them (small ER tables).
MIN_PAIRS = 100
CHUNK = 8192


def _candidates(qa: torch.Tensor, eb: torch.Tensor, gold: np.ndarray) -> np.ndarray:
    g = torch.from_numpy(gold)
    fwd = topk(qa[g[:, 0]], eb, HEAD_K).numpy()
    bwd = topk(eb[g[:, 1]], qa, HEAD_K).numpy()
    return np.unique(np.concatenate([
        np.stack([np.repeat(gold[:, 0], fwd.shape[1]), fwd.ravel()], 1),
        np.stack([bwd.ravel(), np.repeat(gold[:, 1], bwd.shape[1])], 1)]), axis=0)


@torch.no_grad()
def fit_pair_head(bundle: ModelBundle, pair: GraphPair,
                  inputs: tuple[GraphInputs, GraphInputs]) -> PairHead | None:
    """The head of ``bundle`` on ``pair`` (``inputs``: both graphs' under its final anchors);
    ``None`` without labelled pairs of both kinds."""
    gold = pair.valid if len(pair.valid) >= MIN_PAIRS else np.concatenate([pair.train,
                                                                             pair.valid])
    if not len(gold):
        return None
    net, (ga, gb) = bundle.net, inputs
    enc_a, enc_b = net.encode(ga), net.encode(gb)
    pairs = _candidates(retrieval_vectors(net, ga, enc_a, query=True),
                        retrieval_vectors(net, gb, enc_b, query=False), gold)
    known = set(map(tuple, gold.tolist()))
    labels = np.fromiter(((a, b) in known for a, b in pairs.tolist()), dtype=bool,
                         count=len(pairs))
    ia, ib = torch.from_numpy(pairs[:, 0]), torch.from_numpy(pairs[:, 1])
    scores = torch.cat([pair_logits(net, ga, enc_a, ia[s:s + CHUNK], gb, enc_b,
                                    ib[s:s + CHUNK], bundle.arch.cross_attention)[0]
                        for s in range(0, len(pairs), CHUNK)])
    anchors = len(bundle.frozen.anchors)
    feats = pair_features(GraphEvidence(ga, anchors), pairs[:, 0], GraphEvidence(gb, anchors),
                          pairs[:, 1], scores.numpy())
    return fit(feats, labels)
