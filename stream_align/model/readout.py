"""Scores and vectors read out of the encoder: shared by training, the scorer and batch align.

A pair's score is a weighted sum of per-block inner products (see :class:`encoder.Parts`):
retrieval scores use the pair-independent last layer, pair scores the cross-attention one.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from stream_align.model.encoder import CGMuAlign, Encoded, PairOutput, Parts
from stream_align.model.inputs import GraphInputs


def retrieval_parts(net: CGMuAlign, g: GraphInputs, enc: Encoded, rows: torch.Tensor) -> Parts:
    """Blocks of ``rows`` with the pair-independent last layer, computed once per unique row (a
    training batch repeats each positive 11 times: the projections of its wide fixed blocks
    were most of a step's forward and backward time)."""
    unique, inverse = torch.unique(rows, return_inverse=True)
    parts = net.parts(g, enc, unique, net.retrieval_h2(g, enc, unique))
    return Parts([block[inverse] for block in parts.blocks])


def pair_logits(net: CGMuAlign, ga: GraphInputs, enc_a: Encoded, ia: torch.Tensor,
                gb: GraphInputs, enc_b: Encoded, ib: torch.Tensor,
                cross: bool) -> tuple[torch.Tensor, PairOutput | None]:
    """Scores of ``(ia[p], ib[p])``: with cross-graph attention α (``cross``) or retrieval."""
    out = None
    if cross:
        out = net.pair(ga, enc_a, ia, gb, enc_b, ib)
        pa, pb = net.parts(ga, enc_a, ia, out.h2_a), net.parts(gb, enc_b, ib, out.h2_b)
    else:
        pa, pb = retrieval_parts(net, ga, enc_a, ia), retrieval_parts(net, gb, enc_b, ib)
    return net.logits(pa, pb), out


@torch.no_grad()
def pair_logit_chunks(net: CGMuAlign, ga: GraphInputs, enc_a: Encoded, ia: np.ndarray,
                      gb: GraphInputs, enc_b: Encoded, ib: np.ndarray, cross: bool, chunk: int
                      ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                          PairOutput | None]]:
    """:func:`pair_logits` of ``(ia[p], ib[p])``, ``chunk`` pairs at a time, as ``(a, b,
    logits, out)``: cross-graph attention holds ``chunk × k × k × d`` floats, so the caller
    (training's self-training round, the scorer) bounds it by its chunk."""
    for s in range(0, len(ia), chunk):
        a = torch.as_tensor(ia[s:s + chunk], dtype=torch.int64)
        b = torch.as_tensor(ib[s:s + chunk], dtype=torch.int64)
        yield (a, b, *pair_logits(net, ga, enc_a, a, gb, enc_b, b, cross))


@torch.no_grad()
def retrieval_vectors(net: CGMuAlign, g: GraphInputs, enc: Encoded, query: bool,
                      chunk: int = 4096) -> torch.Tensor:
    """``(n, D)`` vectors whose inner products are retrieval scores (graph A: ``query``)."""
    return row_vectors(net, g, enc, torch.arange(g.n), query, chunk)


@torch.no_grad()
def row_vectors(net: CGMuAlign, g: GraphInputs, enc: Encoded, rows: torch.Tensor, query: bool,
                chunk: int = 4096) -> torch.Tensor:
    """:func:`retrieval_vectors` of some ``rows`` only (no full ``n × D`` matrix built)."""
    out = []
    for start in range(0, len(rows), chunk):
        part = rows[start:start + chunk]
        out.append(net.vectors(net.parts(g, enc, part, net.retrieval_h2(g, enc, part)), query))
    return torch.cat(out) if out else torch.zeros((0, 0))
