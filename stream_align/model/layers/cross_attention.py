"""Cross-graph attention α for a candidate pair ``(i, i′)`` (paper eq. 5–6).

``M_pq = exp(−‖z_p − z_q‖)`` for ``p ∈ N(i)``, ``q ∈ N(i′)``;
``α_p = Σ_q M_pq / Σ_pq M_pq`` (row-normalised, side of ``i``),
``α_q = Σ_p M_pq / Σ_pq M_pq`` (column-normalised, side of ``i′``).
A neighbour of ``i`` that has a close counterpart among ``i′``'s neighbours gets weight; one
without gets little. Pair-dependent, so it re-ranks candidates and never enters FAISS.

Shapes: ``z_a`` ``(P, k, d)``, ``mask_a`` ``(P, k)`` (same for ``b``); returns ``α_a`` ``(P, k)``,
``α_b`` ``(P, k)`` (each summing to 1 over real neighbours, 0 where a side has none) and ``M``
``(P, k, k)`` (for evidence).
"""

from __future__ import annotations

import torch


def cross_attention(z_a: torch.Tensor, mask_a: torch.Tensor, z_b: torch.Tensor,
                    mask_b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    dist = torch.cdist(z_a, z_b)
    # masked by one side, then the other: the same 0/1 products as by the joint mask, without
    # the boolean ``(P, k, k)`` ``&`` (≈ a sixth of this function on a steady batch's pairs)
    m = torch.exp(-dist) * mask_a.unsqueeze(2) * mask_b.unsqueeze(1)
    total = m.sum(dim=(1, 2)).clamp(min=1e-12).unsqueeze(1)
    return m.sum(2) / total, m.sum(1) / total, m
