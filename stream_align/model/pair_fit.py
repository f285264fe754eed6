"""Fitting the pair head (decision 0024) after training: validation pairs against their
retrieval candidates, both directions, every entity of the other graph competing — the pairs the
engine and the batch aligner score.

The logistic fit ranks; where 0.5 falls is set by the decisions: the service matches one to one,
so competition already removes most wrong candidates, and a probability calibrated on the raw
candidate base rate (1 in ~20) left a third of the right matches under 0.5 (streamed zh_en
recall 0.66). The bias is shifted so that 0.5 is the threshold whose stable matching of the
validation candidates has the best F1 (on a tie, the highest such threshold)."""

from __future__ import annotations

from dataclasses import replace

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
    head = fit(feats, labels)
    if head is None:
        return None
    bar = decision_bar(pairs, head.logits(feats), labels, gold)
    return replace(head, bias=head.bias - bar)


def decision_bar(pairs: np.ndarray, logits: np.ndarray, labels: np.ndarray,
                 gold: np.ndarray) -> float:
    """The logit threshold of the best validation F1 (see the module doc). Greedy highest-first
    matching truncated at a threshold *is* the matching at that threshold, so one pass gives
    every threshold's decisions; F1 counts matches whose left is a gold source."""
    sources = set(gold[:, 0].tolist())
    used_a: set[int] = set()
    used_b: set[int] = set()
    made, right = [], []
    for p in np.argsort(-logits, kind="stable").tolist():
        a, b = int(pairs[p, 0]), int(pairs[p, 1])
        if a in used_a or b in used_b:
            continue
        used_a.add(a)
        used_b.add(b)
        if a in sources:
            made.append(float(logits[p]))
            right.append(bool(labels[p]))
    if not made:
        return 0.0
    f1 = 2 * np.cumsum(right) / (np.arange(1, len(made) + 1) + len(gold))
    return made[int(np.argmax(f1))]
