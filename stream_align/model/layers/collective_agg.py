"""Last CG-MuAlign layer: CollectiveAgg (paper eq. 4–7).

``z_ij = W_r h_j``;  ``β_ij = softmax_j(LeakyReLU(a_rᵀ [W_self h_i ‖ z_ij]))`` with one ``a_r``
per relation (relation-aware self-attention: keeps strong evidence such as a *different*
performer visible); ``z_i = Σ_j α_ij β_ij z_ij`` renormalised over ``j``, where ``α`` is the
cross-graph attention of a candidate pair (:func:`cross_attention`) — or uniform for the
pair-independent retrieval embedding; ``h_i' = σ([W_self h_i ‖ z_i])``.

Shapes: ``h`` ``(n + 1, in)`` (zero padding row at ``n``); ``rows`` ``(P,)``; neighbour tables
``(n, k)``; messages ``(P, k, out/2)``; output ``(P, out)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from stream_align.model.layers.relation_transform import RelationTransform


@dataclass
class Messages:
    """What one side of a pair contributes: self part, neighbour messages, attention β."""

    z_self: torch.Tensor  # (P, out/2)
    z: torch.Tensor  # (P, k, out/2)
    beta: torch.Tensor  # (P, k), sums to 1 over real neighbours
    mask: torch.Tensor  # (P, k)


class CollectiveAggLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, n_relations: int, self_attention: bool) -> None:
        super().__init__()
        half = out_dim // 2
        self.w_self = nn.Linear(in_dim, half, bias=False)
        self.w_rel = RelationTransform(in_dim, half, n_relations)
        self.a_r = nn.Embedding(n_relations, 2 * half)
        nn.init.normal_(self.a_r.weight, std=0.1)
        self.self_attention = self_attention

    def messages(self, h: torch.Tensor, rows: torch.Tensor, nbr: torch.Tensor, rel: torch.Tensor,
                 mask: torch.Tensor) -> Messages:
        nbr, rel, mask = nbr[rows], rel[rows], mask[rows]
        z_self = self.w_self(h[rows])
        z = self.w_rel(h, nbr, rel)
        if self.self_attention:
            a = self.a_r(rel)
            half = z.shape[-1]
            logits = F.leaky_relu((a[..., :half] * z_self.unsqueeze(1)).sum(-1)
                                  + (a[..., half:] * z).sum(-1), 0.2)
        else:
            logits = torch.zeros(mask.shape, dtype=z.dtype)
        beta = torch.softmax(logits.masked_fill(~mask, float("-inf")), dim=1)
        return Messages(z_self=z_self, z=z, beta=torch.nan_to_num(beta, nan=0.0), mask=mask)

    @staticmethod
    def combine(m: Messages, alpha: torch.Tensor | None = None) -> torch.Tensor:
        """``σ([W_self h_i ‖ Σ_j α_ij β_ij z_ij])`` with the weights renormalised over ``j``."""
        w = m.beta if alpha is None else m.beta * alpha
        w = w / w.sum(1, keepdim=True).clamp(min=1e-12)
        return F.elu(torch.cat([m.z_self, (w.unsqueeze(-1) * m.z).sum(1)], dim=-1))
