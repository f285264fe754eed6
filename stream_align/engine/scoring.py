"""Cross-attention pair scores (and their evidence) on local closures of both sides.

A pair score reads the same inputs as the two retrieval embeddings (``h0``, ``h1`` of each side
and ``h1`` of their samples), so the closures of ``recompute`` make it exact too. Scores are
those of ``ModelScorer.pair_scores``: a probability for BCE models, the cosine for hinge ones.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from stream_align.engine.recompute import LocalEncoding, encode_local
from stream_align.engine.side import Side
from stream_align.model.bundle import ModelBundle
from stream_align.model.readout import pair_logits

PAIR_BLOCK = 4096
"""Pairs per cross-attention pass: ``PAIR_BLOCK × k × k`` attention weights at a time."""


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


def _groups(pairs: Sequence[tuple[int, int]], limit: int) -> Iterator[Sequence[tuple[int, int]]]:
    """Consecutive runs of ``pairs`` with at most ``limit`` distinct entities on each side."""
    start, lefts, rights = 0, set(), set()
    for i, (a, b) in enumerate(pairs):
        if (a not in lefts and len(lefts) >= limit) or (b not in rights and len(rights) >= limit):
            yield pairs[start:i]
            start, lefts, rights = i, set(), set()
        lefts.add(a)
        rights.add(b)
    if start < len(pairs):
        yield pairs[start:]


@torch.no_grad()
def score_pairs(bundle: ModelBundle, sides: tuple[Side, Side], pairs: Sequence[tuple[int, int]],
                chunk: int, evidence: int = 0) -> tuple[np.ndarray, list[list[NeighbourPair]]]:
    """Scores of ``pairs`` (global ``(left, right)`` indices) and, if asked, their evidence.

    Each side is encoded once per group of pairs with at most ``chunk`` distinct entities (its
    closure is the memory bound); the cross-attention pass then runs ``PAIR_BLOCK`` pairs at a
    time.
    """
    scores, explained = [], []
    for group in _groups(pairs, chunk):
        lefts, rights = sorted({a for a, _ in group}), sorted({b for _, b in group})
        loc = (encode_local(bundle, sides[0].samples, lefts, sides[0].features),
               encode_local(bundle, sides[1].samples, rights, sides[1].features))
        rows_a, rows_b = loc[0].rows([a for a, _ in group]), loc[1].rows([b for _, b in group])
        for start in range(0, len(group), PAIR_BLOCK):
            rows = rows_a[start:start + PAIR_BLOCK], rows_b[start:start + PAIR_BLOCK]
            logits, out = pair_logits(bundle.net, loc[0].inputs, loc[0].enc, rows[0],
                                      loc[1].inputs, loc[1].enc, rows[1], cross=True)
            scores.append(torch.sigmoid(logits) if bundle.net.loss == "bce" else logits)
            if evidence and out is not None:
                explained += _evidence(bundle, loc, rows, out.cross, evidence)
    result = torch.cat(scores).numpy() if scores else np.zeros(0, dtype=np.float32)
    return result.astype(np.float32), explained
