"""Cross-attention pair scores (and their evidence) on local closures of both sides.

A pair score reads the same inputs as the two retrieval embeddings (``h0``, ``h1`` of each side
and ``h1`` of their samples), so the closures of ``recompute`` make it exact too. Scores are
those of ``ModelScorer.pair_scores``: a probability for BCE models, the cosine for hinge ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from stream_align.engine.affected import SampleIndex
from stream_align.engine.recompute import LocalEncoding, encode_local
from stream_align.model.bundle import ModelBundle
from stream_align.model.readout import pair_logits


@dataclass(frozen=True)
class NeighbourPair:
    """One evidence entry: neighbours (global indices), relation names, attention weight."""

    left: int
    right: int
    relation_left: str
    relation_right: str
    weight: float


def _evidence(bundle: ModelBundle, loc: tuple[LocalEncoding, LocalEncoding],
              rows: tuple[torch.Tensor, torch.Tensor], cross: torch.Tensor,
              top: int) -> list[list[NeighbourPair]]:
    """The ``top`` neighbour pairs per pair with the largest β-weighted attention."""
    names = bundle.frozen.vocab.relations
    flat = cross.flatten(1)
    k = loc[1].inputs.nbr.shape[1]
    weights, where = flat.topk(min(top, flat.shape[1]), dim=1)
    (la, lb), (ia, ib) = loc, rows
    out = []
    for p in range(len(ia)):
        found = []
        for v, w in zip(weights[p].tolist(), where[p].tolist(), strict=True):
            if v <= 0:
                continue
            x, y = int(la.inputs.nbr[ia[p], w // k]), int(lb.inputs.nbr[ib[p], w % k])
            found.append(NeighbourPair(int(la.globals[x]), int(lb.globals[y]),
                                       names[int(la.inputs.rel[ia[p], w // k])],
                                       names[int(lb.inputs.rel[ib[p], w % k])], float(v)))
        out.append(found)
    return out


@torch.no_grad()
def score_pairs(bundle: ModelBundle, samples: tuple[SampleIndex, SampleIndex],
                pairs: Sequence[tuple[int, int]], chunk: int,
                evidence: int = 0) -> tuple[np.ndarray, list[list[NeighbourPair]]]:
    """Scores of ``pairs`` (global ``(left, right)`` indices) and, if asked, their evidence."""
    scores, explained = [], []
    for start in range(0, len(pairs), chunk):
        part = pairs[start:start + chunk]
        lefts = sorted({a for a, _ in part})
        rights = sorted({b for _, b in part})
        loc = encode_local(bundle, samples[0], lefts), encode_local(bundle, samples[1], rights)
        rows = loc[0].rows([a for a, _ in part]), loc[1].rows([b for _, b in part])
        logits, out = pair_logits(bundle.net, loc[0].inputs, loc[0].enc, rows[0],
                                  loc[1].inputs, loc[1].enc, rows[1], cross=True)
        scores.append(torch.sigmoid(logits) if bundle.net.loss == "bce" else logits)
        if evidence and out is not None:
            explained += _evidence(bundle, loc, rows, out.cross, evidence)
    result = torch.cat(scores).numpy() if scores else np.zeros(0, dtype=np.float32)
    return result.astype(np.float32), explained
