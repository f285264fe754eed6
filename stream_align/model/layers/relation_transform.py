"""Relation-specific transform ``z_ij = W_r h_j`` with ``W_r = diag(g_r) · W`` (paper eq. 2).

DBP15K has 1,701 + 1,323 relations (×2 directions): a full ``W_r`` each would be millions of
parameters learnt from a few edges apiece. A relation embedding ``g_r ∈ R^out`` that gates one
shared ``W`` (DistMult-style modulation) keeps one parameter vector per relation, is cheap on a
``(rows, k, out)`` gather, and starts as the identity gate (``g_r = 1``) so rare relations fall
back to the shared transform.

Shapes: ``h`` ``(n + 1, in)`` with a zero padding row at ``n``; ``nbr``/``rel`` ``(rows, k)``;
output ``(rows, k, out)``.
"""

from __future__ import annotations

import torch
from torch import nn


class RelationTransform(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, n_relations: int) -> None:
        super().__init__()
        self.shared = nn.Linear(in_dim, out_dim, bias=False)
        self.gate = nn.Embedding(n_relations, out_dim)
        nn.init.ones_(self.gate.weight)

    def forward(self, h: torch.Tensor, nbr: torch.Tensor, rel: torch.Tensor) -> torch.Tensor:
        return self.shared(h)[nbr] * self.gate(rel)
