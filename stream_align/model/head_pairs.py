"""Self-training pairs chosen by the pair head instead of the retrieval vector (decision 0049).

A self-training round freezes mutual best pairs as anchors (``model.bootstrap``). By the
retrieval vector alone — 256 floats, names hidden — 82 % of the pairs it froze for DBP15K zh_en
test sources were right; the pair head (decision 0024), which reads the exact anchor sets of
both samples, disagreed with 853 of them and was right 389 times against 154. So here a round
first fits the head on the validation pairs (the training's own ``fit_pair_head``; no label of
a non-training pair is read), scores each free entity's retrieval candidates (its ``k`` best
free entities of the other graph, both directions) with it, and keeps the pairs that are each
other's best by the head's logit. Better anchors are better structural features for every
neighbour of them, and the refit after the round (decision 0041) learns from them too.
"""

from __future__ import annotations

import numpy as np
import torch

from stream_align.model.bundle import ModelBundle
from stream_align.model.inputs import GraphInputs
from stream_align.model.pair_head import GraphEvidence, PairHead, pair_features
from stream_align.model.ranking import topk
from stream_align.model.readout import pair_logit_chunks

#: Retrieval candidates of each free entity the head compares (the engine's ``top_k``).
HEAD_CANDIDATES = 10
#: Pairs scored at once: the cross-graph attention holds ``CHUNK × k × k × d`` floats (k = 20
#: sampled slots with names hidden: 52 MB at 2,048 pairs, 210 MB at 8,192).
CHUNK = 2048


def candidate_pairs(qa: torch.Tensor, eb: torch.Tensor, k: int) -> np.ndarray:
    """``int64 (P, 2)`` distinct ``(row of qa, row of eb)``: each row's ``k`` best of the
    other side by inner product, both directions."""
    fwd = topk(qa, eb, k).numpy()
    bwd = topk(eb, qa, k).numpy()
    pairs = np.concatenate([
        np.stack([np.repeat(np.arange(len(qa)), fwd.shape[1]), fwd.ravel()], 1),
        np.stack([bwd.ravel(), np.repeat(np.arange(len(eb)), bwd.shape[1])], 1)])
    return np.unique(pairs.astype(np.int64), axis=0)


def mutual_best_pairs(pairs: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs that are both their left's and their right's best by ``logits`` (ties: the
    earlier pair in ``pairs`` order), as ``(lefts, rights)`` sorted by left."""
    if not len(pairs):
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    order = np.argsort(-logits, kind="stable")
    best_left = np.zeros(len(pairs), dtype=bool)
    best_right = np.zeros(len(pairs), dtype=bool)
    best_left[order[np.unique(pairs[order, 0], return_index=True)[1]]] = True
    best_right[order[np.unique(pairs[order, 1], return_index=True)[1]]] = True
    keep = np.flatnonzero(best_left & best_right)
    keep = keep[np.argsort(pairs[keep, 0], kind="stable")]
    return pairs[keep, 0], pairs[keep, 1]


@torch.no_grad()
def head_logits(bundle: ModelBundle, head: PairHead, ga: GraphInputs, gb: GraphInputs,
                ia: np.ndarray, ib: np.ndarray) -> np.ndarray:
    """The head's logits of the entity pairs ``(ia[p], ib[p])`` (as the scorer computes them)."""
    net, anchors = bundle.net, len(bundle.frozen.anchors)
    evidence = GraphEvidence(ga, anchors), GraphEvidence(gb, anchors)
    chunks = pair_logit_chunks(net, ga, net.encode(ga), ia, gb, net.encode(gb), ib,
                               bundle.arch.cross_attention, CHUNK)
    out = [head.logits(pair_features(evidence[0], a.numpy(), evidence[1], b.numpy(),
                                     logits.numpy()))
           for a, b, logits, _ in chunks]
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def head_mutual_best(bundle: ModelBundle, head: PairHead, inputs: tuple[GraphInputs, GraphInputs],
                     free: tuple[np.ndarray, np.ndarray], vectors: tuple[torch.Tensor, torch.Tensor]
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``free[0]`` and of ``free[1]`` (entity ids of each graph, whose retrieval
    ``vectors`` are given in that order) that are each other's best by ``head`` among their
    :data:`HEAD_CANDIDATES` retrieval candidates."""
    pairs = candidate_pairs(*vectors, HEAD_CANDIDATES)
    logits = head_logits(bundle, head, *inputs, free[0][pairs[:, 0]], free[1][pairs[:, 1]])
    return mutual_best_pairs(pairs, logits)
