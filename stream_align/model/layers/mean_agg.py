"""Lower CG-MuAlign layer: relation-transformed mean aggregation (paper eq. 2–3).

``z_i = mean_{j ∈ N(i)} W_r h_j``,  ``h_i' = σ([W_self h_i ‖ z_i])``.

Shapes: ``h`` ``(n + 1, in)`` (zero padding row at ``n``), ``nbr``/``rel``/``mask`` ``(n, k)``;
output ``(n, out)``: half self, half neighbourhood.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from stream_align.model.layers.relation_transform import RelationTransform


class RelationalMeanLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, n_relations: int) -> None:
        super().__init__()
        self.w_self = nn.Linear(in_dim, out_dim // 2, bias=False)
        self.w_rel = RelationTransform(in_dim, out_dim // 2, n_relations)

    def forward(self, h: torch.Tensor, nbr: torch.Tensor, rel: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        z_ij = self.w_rel(h, nbr, rel) * mask.unsqueeze(-1)
        z_i = z_ij.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return F.elu(torch.cat([self.w_self(h[: nbr.shape[0]]), z_i], dim=-1))
