"""Exact top-k by inner product in chunks: training-time retrieval (hard negatives, validation).

FAISS serves the long-running index; during training the embeddings change every epoch and a
chunked matmul over a few ten thousand rows is exact and cheap.
"""

from __future__ import annotations

import torch


def topk(queries: torch.Tensor, base: torch.Tensor, k: int, chunk: int = 1024) -> torch.Tensor:
    """``int64 (len(queries), k)``: indices of ``base`` with the largest inner products."""
    k = min(k, base.shape[0])
    parts = [(queries[s:s + chunk] @ base.T).topk(k, dim=1).indices
             for s in range(0, queries.shape[0], chunk)]
    return torch.cat(parts) if parts else torch.zeros((0, k), dtype=torch.int64)


def hits_at_1(emb_a: torch.Tensor, emb_b: torch.Tensor, pairs: torch.Tensor) -> float:
    """Share of ``pairs`` whose target is the top graph-B entity for their source (all of B)."""
    if len(pairs) == 0:
        return 0.0
    best = topk(emb_a[pairs[:, 0]], emb_b, 1)[:, 0]
    return float((best == pairs[:, 1]).float().mean())
