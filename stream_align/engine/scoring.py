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


def _groups(pairs: Sequence[tuple[int, int]], limit: int) -> list[list[int]]:
    """Positions of ``pairs`` in blocks with at most ``limit`` distinct entities on each side:
    the lefts in chunks of ``limit`` (in index order), the rights likewise within each."""
    lefts = {a: i // limit for i, a in enumerate(sorted({a for a, _ in pairs}))}
    rights = {b: i // limit for i, b in enumerate(sorted({b for _, b in pairs}))}
    blocks: dict[tuple[int, int], list[int]] = {}
    for p, (a, b) in enumerate(pairs):
        blocks.setdefault((lefts[a], rights[b]), []).append(p)
    return [blocks[key] for key in sorted(blocks)]


@torch.no_grad()
def score_pairs(bundle: ModelBundle, sides: tuple[Side, Side], pairs: Sequence[tuple[int, int]],
                chunk: int, evidence: int = 0) -> tuple[np.ndarray, list[list[NeighbourPair]]]:
    """Scores of ``pairs`` (global ``(left, right)`` indices) and, if asked, their evidence.

    Each side is encoded once per block of pairs with at most ``chunk`` distinct entities per
    side (its closure is the memory bound); the cross-attention pass then runs ``PAIR_BLOCK``
    pairs at a time.
    """
    scores = np.zeros(len(pairs), dtype=np.float32)
    explained: list[list[NeighbourPair]] = [[] for _ in pairs] if evidence else []
    for group in _groups(pairs, chunk):
        lefts = sorted({pairs[p][0] for p in group})
        rights = sorted({pairs[p][1] for p in group})
        loc = (encode_local(bundle, sides[0].samples, lefts, sides[0].features),
               encode_local(bundle, sides[1].samples, rights, sides[1].features))
        rows_a = loc[0].rows([pairs[p][0] for p in group])
        rows_b = loc[1].rows([pairs[p][1] for p in group])
        for start in range(0, len(group), PAIR_BLOCK):
            at = group[start:start + PAIR_BLOCK]
            rows = rows_a[start:start + PAIR_BLOCK], rows_b[start:start + PAIR_BLOCK]
            logits, out = pair_logits(bundle.net, loc[0].inputs, loc[0].enc, rows[0],
                                      loc[1].inputs, loc[1].enc, rows[1], cross=True)
            scores[at] = (torch.sigmoid(logits) if bundle.net.loss == "bce" else logits).numpy()
            if evidence and out is not None:
                for p, found in zip(at, _evidence(bundle, loc, rows, out.cross, evidence),
                                    strict=True):
                    explained[p] = found
    return scores, explained
