"""The CG-MuAlign encoder: level-0 features → mean layer → CollectiveAgg → embedding.

Two read-outs share every weight:

- :meth:`CGMuAlign.encode` — the *retrieval* embedding (CollectiveAgg with α uniform, i.e.
  pair-independent): what FAISS indexes;
- :meth:`CGMuAlign.pair` — the *pair* embeddings of candidate pairs, with the cross-graph
  attention α of each pair in the last layer: what re-ranks FAISS's top-k.

The final embedding concatenates unit-normalised blocks ``[h0 ‖ h1 ‖ h2]`` with fixed skips:
the raw name n-gram vector, its mean over the sampled 1- and 2-hop neighbours, and the seed
anchors among the neighbours, each with a learnt weight. So the model can always fall back on
name similarity (names alone reach Hits@1 0.81 on DBP15K, with neighbour names 0.89, with
neighbour anchors 0.90), while the GNN layers add what these fixed views cannot say. With names
hidden the fixed part is instead the eight structural blocks of :mod:`model.structure` (seed
anchors and relations over the 2-hop sample; decision 0008).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from stream_align.model.inputs import Frozen, GraphInputs
from stream_align.model.layers import CollectiveAggLayer, RelationalMeanLayer, cross_attention
from stream_align.model.layers.collective_agg import Messages
from stream_align.model.settings import STRUCTURE_BLOCKS, ArchitectureSettings
from stream_align.model.sparse_rows import SparseRows
from stream_align.model.structure import INITIAL_SCALES as STRUCTURE_SCALES


@dataclass
class Encoded:
    """Pair-independent states of one graph; ``h1`` carries the zero padding row."""

    h0: torch.Tensor  # (n, d)
    h1: torch.Tensor  # (n + 1, d)


@dataclass
class Parts:
    """The blocks of some rows: unit ``h0, h1, h2`` then the fixed raw name skips (unit or 0).

    Kept apart because a full ``n × (3d + name_dim)`` concatenation is the slowest thing in a
    training step; every score is a weighted sum of per-block inner products instead.
    """

    blocks: list[torch.Tensor]  # 3 × (P, d), then (P, name_dim) per skip hop


@dataclass
class PairOutput:
    """Last-layer states of candidate pairs under cross-graph attention, and what explains them."""

    h2_a: torch.Tensor  # (P, d)
    h2_b: torch.Tensor  # (P, d)
    m: torch.Tensor  # (P, k, k) M_pq of the cross-graph attention (masked)
    beta_a: torch.Tensor  # (P, k) each side's self-attention β
    beta_b: torch.Tensor

    @property
    def cross(self) -> torch.Tensor:
        """``(P, k, k)`` M_pq weighted by both sides' β (evidence), made when asked: a pair
        scored without evidence — every steady refresh's — never reads it."""
        return self.m * self.beta_a.unsqueeze(2) * self.beta_b.unsqueeze(1)


def _raw(scales: list[float]) -> list[float]:
    """Inverse softplus: parameters that start at the given block scales."""
    return [math.log(math.expm1(x)) for x in scales]


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise inner products; blocks that carry no gradient (fixed, unprojected) are taken
    under ``no_grad`` so autograd need not keep their wide products."""
    if a.requires_grad or b.requires_grad:
        return (a * b).sum(-1)
    with torch.no_grad():
        return torch.einsum("pd,pd->p", a, b)


def fixed_widths(arch: ArchitectureSettings, name_dim: int) -> list[int]:
    """Raw widths of the fixed blocks, in :class:`Parts` order (those the settings turn on)."""
    names = [name_dim] * (arch.name_skip_hops + 1) if arch.name_skip else []
    anchors = [arch.anchor_skip_dim] if arch.use_anchors and arch.anchor_skip_dim else []
    structure = ([arch.structure_dim] * STRUCTURE_BLOCKS
                 if arch.use_anchors and arch.structure_dim else [])
    return [*names, *anchors, *structure]


def projection_widths(arch: ArchitectureSettings) -> list[int]:
    """Output width of each fixed block's projection, in :func:`fixed_widths` order (the
    structural blocks share the last width when they are projected jointly); ``[]``: raw."""
    if arch.skip_widths is None:
        return []
    widths = list(arch.skip_widths)
    if arch.structure_joint:
        widths += [widths[-1]] * (STRUCTURE_BLOCKS - 1)
    return widths


def _initial_projection(arch: ArchitectureSettings, raw: list[int], widths: list[int],
                        ) -> list[torch.Tensor]:
    """Signed folds; jointly projected structural blocks carry their learning-free blend
    weights in the fold, as they share one block scale. No widths: no projections (raw)."""
    if not widths:
        return []
    folds = [signed_fold(r, w, k) for k, (r, w) in enumerate(zip(raw, widths, strict=True))]
    if arch.structure_joint:
        first = len(folds) - STRUCTURE_BLOCKS
        folds[first:] = [f * s for f, s in zip(folds[first:], STRUCTURE_SCALES, strict=True)]
    return folds


def signed_fold(raw: int, width: int, seed: int) -> torch.Tensor:
    """``(raw, width)``: column ``j mod width`` of row ``j``, with a random sign per row.

    Feature hashing of an already hashed n-gram vector into ``width`` buckets: inner products
    stay unbiased, and sparse rows (names: ~20 n-grams) keep most of their ranking — measured
    on DBP15K zh_en names alone 0.808 at 512 raw, 0.781 folded to 64, against 0.72 for an SVD
    to 40 dimensions (decision 0015).
    """
    gen = torch.Generator().manual_seed(seed)
    sign = torch.randint(0, 2, (raw,), generator=gen).float() * 2 - 1
    out = torch.zeros(raw, width)
    out[torch.arange(raw), torch.arange(raw) % width] = sign
    return out


def initial_scales(arch: ArchitectureSettings) -> list[float]:
    """Block weights at initialisation, one per block in :class:`Parts` order: learnt
    ``h0, h1, h2``, raw names per hop, neighbour anchors, structural blocks (those present)."""
    names = [1.0, 0.9, 0.65, 0.5][: arch.name_skip_hops + 1] if arch.name_skip else []
    anchors = [0.55] if arch.use_anchors and arch.anchor_skip_dim else []
    structure = list(STRUCTURE_SCALES) if arch.use_anchors and arch.structure_dim else []
    if structure and arch.structure_joint:
        structure = [1.0]  # the blend is in the projection (:func:`_initial_projection`)
    return [0.2, 0.2, 0.2, *names, *anchors, *structure]


def pad_row(h: torch.Tensor) -> torch.Tensor:
    """``h`` with a zero row appended: the row a padded neighbour slot reads."""
    return torch.cat([h, h.new_zeros(1, h.shape[1])])


class CGMuAlign(nn.Module):
    def __init__(self, frozen: Frozen, arch: ArchitectureSettings, loss: str) -> None:
        super().__init__()
        f, d = frozen.features, arch.hidden_dim
        n_rel = len(frozen.vocab.relations)
        self.arch, self.loss = arch, loss
        self.name_proj = nn.Parameter(torch.randn(f.name_dim, d) / f.name_dim**0.5)
        self.attr_proj = nn.Parameter(torch.randn(f.attr_dim, d) / f.attr_dim**0.5)
        self.numeric_proj = nn.Linear(f.numeric_dim, d, bias=False)
        self.type_emb = nn.Embedding(len(frozen.vocab.types), d)
        n_anchors = len(frozen.anchors) if arch.use_anchors else 0
        self.anchor_emb = nn.Embedding(n_anchors + 1, d, padding_idx=n_anchors)
        self.layer1 = RelationalMeanLayer(d, d, n_rel)
        self.layer2 = CollectiveAggLayer(d, d, n_rel, arch.self_attention)
        # Block weights [h0, h1, h2, names, 1-hop names, 2-hop ...]: hinge uses softplus(raw)²
        # and the cosine; BCE a weight per dimension of the learnt blocks (the reference code's
        # linear layer on h_a ⊙ h_b), one per name block, and a bias. Both start near the
        # learning-free name-propagation baseline: name blocks dominant, learnt blocks small.
        # The initial scales are the best learning-free blend measured on DBP15K zh_en.
        scales = initial_scales(arch)
        raw = fixed_widths(arch, f.name_dim)
        # The fixed blocks' projections into the compact retrieval vector (decisions 0015,
        # 0037: the structural blocks summed into one shared block when joint).
        self.skip_proj = nn.ParameterList(
            nn.Parameter(fold, requires_grad=arch.learn_projection)
            for fold in _initial_projection(arch, raw, projection_widths(arch)))
        self.retrieval_dim = 3 * d + sum(arch.skip_widths or raw)
        self.block_raw = nn.Parameter(torch.tensor(_raw(scales)))
        self.bce_weight = nn.Parameter(torch.full((3 * d,), 1.0))
        self.bce_skip = nn.Parameter(torch.tensor([8.0 * x * x for x in scales[3:]]))
        self.bce_bias = nn.Parameter(torch.tensor(-8.0))

    def level0(self, g: GraphInputs, hide: torch.Tensor | None = None) -> torch.Tensor:
        """``h0``: projected names/attributes/numbers + type + seed anchor (hidden for ``hide``)."""
        anchors = g.anchors.clamp(max=self.anchor_emb.num_embeddings - 1)
        if hide is not None:
            anchors = anchors.clone()
            anchors[hide] = self.anchor_emb.padding_idx
        return self.level0_of(g.names, g.attrs, g.numeric, g.types, anchors)

    def level0_of(self, names: torch.Tensor, attrs: torch.Tensor, numeric: torch.Tensor,
                  types: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        """``h0`` of rows from their own inputs alone (sparse COO names and attributes, anchor
        ids already clamped): what :meth:`level0` computes, for a caller without a graph
        (the engine's level-wise recompute, ``engine.levelwise``)."""
        return (torch.sparse.mm(names, self.name_proj) + torch.sparse.mm(attrs, self.attr_proj)
                + self.numeric_proj(numeric) + self.type_emb(types)
                + self.anchor_emb(anchors))

    def encode(self, g: GraphInputs, hide: torch.Tensor | None = None) -> Encoded:
        """Levels 0 and 1 of every entity (the lower layers are pair-independent)."""
        h0 = self.level0(g, hide)
        return Encoded(h0=h0, h1=pad_row(self.layer1(pad_row(h0), g.nbr, g.rel, g.mask)))

    def retrieval_h2(self, g: GraphInputs, enc: Encoded, rows: torch.Tensor) -> torch.Tensor:
        """Last layer with α uniform: the pair-independent state FAISS can index."""
        return self.layer2.combine(self.layer2.messages(enc.h1, rows, g.nbr, g.rel, g.mask))

    def pair(self, ga: GraphInputs, enc_a: Encoded, ia: torch.Tensor, gb: GraphInputs,
             enc_b: Encoded, ib: torch.Tensor) -> PairOutput:
        """Last layer of the pairs ``(ia[p], ib[p])`` with cross-graph attention α."""
        return self.attend(self.layer2.messages(enc_a.h1, ia, ga.nbr, ga.rel, ga.mask),
                           self.layer2.messages(enc_b.h1, ib, gb.nbr, gb.rel, gb.mask))

    def attend(self, ma: Messages, mb: Messages) -> PairOutput:
        """Last layer of pairs from both sides' messages (row ``p`` of each is one pair)."""
        if self.arch.cross_attention:
            alpha_a, alpha_b, m = cross_attention(ma.z, ma.mask, mb.z, mb.mask)
        else:
            alpha_a, alpha_b = None, None
            m = (ma.mask.unsqueeze(2) & mb.mask.unsqueeze(1)).float()
        return PairOutput(h2_a=self.layer2.combine(ma, alpha_a),
                          h2_b=self.layer2.combine(mb, alpha_b), m=m, beta_a=ma.beta,
                          beta_b=mb.beta)

    def swap_h2(self, vectors: torch.Tensor, h2: torch.Tensor, query: bool,
                inplace: bool = False) -> torch.Tensor:
        """Retrieval :meth:`vectors` with their ``h2`` block replaced by pair states ``h2``
        (``inplace``: written into ``vectors``, for a caller whose rows are a fresh copy — the
        pair scorer's, read from the index per block — not a copy of them again).

        The inner product of a swapped query row and a swapped base row is the pair's
        :meth:`logits` (less the BCE bias): every other block is the same in both read-outs, and
        under hinge the norm is too (``h2`` enters unit length), so the block keeps its length.
        """
        d = self.arch.hidden_dim
        unit = F.normalize(h2, dim=-1)
        out = vectors if inplace else vectors.clone()
        if self.loss == "bce":
            out[:, 2 * d:3 * d] = unit * self._bce_weights(3)[2] if query else unit
        else:
            out[:, 2 * d:3 * d] = unit * vectors[:, 2 * d:3 * d].norm(dim=-1, keepdim=True)
        return out

    def parts(self, g: GraphInputs, enc: Encoded, rows: torch.Tensor, h2: torch.Tensor) -> Parts:
        """Unit learnt blocks, then the fixed blocks (:meth:`fixed_parts`)."""
        learnt = [F.normalize(enc.h0[rows], dim=-1), F.normalize(enc.h1[rows], dim=-1),
                  F.normalize(h2, dim=-1)]
        return Parts(learnt + self.fixed_parts(g, rows))

    def fixed_parts(self, g: GraphInputs, rows: torch.Tensor) -> list[torch.Tensor]:
        """The fixed blocks of ``rows``, projected (and unit again) when the architecture
        compacts them; an empty row (no name, no anchor) stays zero."""
        return self.fixed_blocks(g.skips, rows)

    def fixed_blocks(self, skips: list[SparseRows | torch.Tensor],
                     rows: torch.Tensor | None = None) -> list[torch.Tensor]:
        """:meth:`fixed_parts` of rows of the fixed blocks ``skips`` alone (``None``: all of
        them, in order, as they are)."""
        fixed = list(skips) if rows is None else [skip[rows] for skip in skips]
        if len(self.skip_proj):
            projected = [x @ p for x, p in zip(fixed, self.skip_proj, strict=True)]
            if self.arch.structure_joint:
                first = len(projected) - STRUCTURE_BLOCKS
                projected[first:] = [torch.stack(projected[first:]).sum(0)]
            return [F.normalize(x, dim=-1) for x in projected]
        return [x.dense() if isinstance(x, SparseRows) else x for x in fixed]

    def fixed_vectors(self, g: GraphInputs, rows: torch.Tensor) -> torch.Tensor:
        """Unit vectors of the fixed blocks alone, each weighted by its current block scale
        (what the projections' pre-fit aligns, :mod:`model.projection_fit`)."""
        blocks = self.fixed_parts(g, rows)
        scales = self._scales(3 + len(blocks))[3:].detach()
        return F.normalize(torch.cat([w * b for w, b in zip(scales, blocks, strict=True)], -1),
                           dim=-1)

    def _scales(self, n_blocks: int) -> torch.Tensor:
        return F.softplus(self.block_raw[:n_blocks]) + 1e-3

    def _norm(self, p: Parts) -> torch.Tensor:
        """‖concatenated embedding‖ from the blocks (each unit, or zero where empty)."""
        s2 = self._scales(len(p.blocks)) ** 2
        return torch.sqrt(sum(s2[k] * _dot(b, b) for k, b in enumerate(p.blocks))
                          .clamp(min=1e-12))

    def _bce_weights(self, n_blocks: int) -> list[torch.Tensor]:
        """Per-dimension weights of the learnt blocks, one weight per fixed name block."""
        return [*self.bce_weight.split(self.arch.hidden_dim), *self.bce_skip[: n_blocks - 3]]

    def logits(self, pa: Parts, pb: Parts) -> torch.Tensor:
        """Row-wise pair scores: cosine of the concatenated embeddings (hinge) or BCE logits."""
        pairs = list(zip(pa.blocks, pb.blocks, strict=True))
        if self.loss == "bce":
            weights = self._bce_weights(len(pairs))
            return sum(((a * b) * w).sum(-1) if k < 3 else w * _dot(a, b)
                       for k, ((a, b), w) in enumerate(zip(pairs, weights, strict=True))
                       ) + self.bce_bias
        s2 = self._scales(len(pairs)) ** 2
        dot = sum(s2[k] * _dot(a, b) for k, (a, b) in enumerate(pairs))
        return dot / (self._norm(pa) * self._norm(pb))

    def vectors(self, p: Parts, query: bool) -> torch.Tensor:
        """Explicit vectors whose inner products are :meth:`logits` (less the BCE bias).

        Hinge: unit vectors on both sides. BCE: the weights go on the query (graph A) side.
        """
        if self.loss == "bce":
            weights = self._bce_weights(len(p.blocks)) if query else [1.0] * len(p.blocks)
            return torch.cat([b * w for b, w in zip(p.blocks, weights, strict=True)], -1)
        s = self._scales(len(p.blocks))
        out = torch.cat([s[k] * b for k, b in enumerate(p.blocks)], -1)
        return out / self._norm(p).unsqueeze(-1)
