"""A pair's evidence, defined once: which neighbour pairs the cross-graph attention weighted.

The last layer of a pair ``(a, b)`` compares every sampled neighbour slot of ``a`` with every
slot of ``b``; ``PairOutput.cross`` holds that ``k × k`` block weighted by both sides'
self-attention β. Evidence is the block's largest entries, each read as *relation and neighbour
on each side* with its **share of the pair's attention mass** (the block normalised to sum 1,
entries naming the same neighbours over the same relations summed). A share reads the same
whatever the pair's score or the model's scale, and it is what ``stream-align align`` writes and
what the service publishes in an ``AlignmentEvent`` — both call :func:`top_evidence`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class NeighbourPair:
    """One evidence entry: neighbours (indices into each graph), relation names, share."""

    left: int
    right: int
    relation_left: str
    relation_right: str
    weight: float


def top_evidence(cross: torch.Tensor, left: tuple[torch.Tensor, torch.Tensor],
                 right: tuple[torch.Tensor, torch.Tensor], relations: list[str],
                 top: int) -> list[list[NeighbourPair]]:
    """The ``top`` evidence entries of each pair, largest share first.

    ``cross``: ``(P, k, k)`` attention block per pair; ``left``/``right``: ``(P, k)`` neighbour
    index and relation id per slot of each pair's entity (padding slots carry no weight).
    """
    k = cross.shape[2]
    flat = cross.flatten(1)
    flat = flat / flat.sum(1, keepdim=True).clamp(min=1e-12)
    (na, ra), (nb, rb) = (t.tolist() for t in left), (t.tolist() for t in right)
    out = []
    for p, row in enumerate(flat.tolist()):
        mass: dict[tuple[int, int, int, int], float] = {}
        for w, share in enumerate(row):
            if share > 0:
                x, y = w // k, w % k
                key = (na[p][x], nb[p][y], ra[p][x], rb[p][y])
                mass[key] = mass.get(key, 0.0) + share
        best = sorted(mass.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        out.append([NeighbourPair(x, y, relations[r1], relations[r2], share)
                    for (x, y, r1, r2), share in best])
    return out
