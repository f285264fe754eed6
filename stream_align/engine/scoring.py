"""Cross-attention pair scores (and their evidence) from indexed vectors and kept ``h1`` rows.

A pair score differs from the retrieval score of the same two entities only in the last layer:
cross-graph attention α instead of uniform weights. So it is read from what the engine keeps —
both retrieval vectors (``h0``, ``h1``, the fixed skips: in the index) with their ``h2`` block
swapped for the pair's (:meth:`CGMuAlign.swap_h2`), whose CollectiveAgg messages need only the
``h1`` of both entities and of their samples (``level1_cache``) — with no local encode. Scores
are those of ``ModelScorer.pair_scores``: with a pair head (decision 0024) its probability from
full-resolution evidence read from the samples and cached level-0 names (:func:`side_view`, the
same rows ``model.pair_head`` cuts from a whole graph); else a probability for BCE models, the
cosine for hinge ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp
import torch

from stream_align.engine.progress import Beat, Progress, chunks, no_beat, no_progress
from stream_align.engine.recompute import encode_local
from stream_align.engine.side import Side
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import PairOutput
from stream_align.model.evidence import NeighbourPair, top_evidence
from stream_align.model.pair_head import PairView, features, pair_view

PAIR_BLOCK = 4096
"""Pairs per cross-attention pass: ``PAIR_BLOCK × k × k`` attention weights at a time."""


@dataclass
class PairRows:
    """One side of a block of pairs: its distinct entities, their samples as a neighbour table
    over local positions (entities first, then the other sampled nodes), and what it reads."""

    order: list[int]  # global index per local position
    nbr: torch.Tensor  # int64 (R, k); padding slots point at position len(order)
    rel: torch.Tensor  # int64 (R, k)
    mask: torch.Tensor  # bool (R, k)
    h1: torch.Tensor  # (len(order) + 1, d): kept rows, zero padding row last
    vectors: torch.Tensor  # (R, D) indexed retrieval vectors of the entities

    def positions(self, nodes: Sequence[int]) -> torch.Tensor:
        where = {g: r for r, g in enumerate(self.order[: len(self.nbr)])}
        return torch.tensor([where[g] for g in nodes], dtype=torch.int64)


def ensure_level1(bundle: ModelBundle, side: Side, nodes: Sequence[int], chunk: int,
                  beat: Beat = no_beat) -> None:
    """Encode the ``nodes`` no recompute has kept an ``h1`` for (after a restore)."""
    todo = side.level1.missing(nodes)
    for start in range(0, len(todo), chunk):
        encode_local(bundle, side.samples, todo[start:start + chunk],
                     side.features, beat).keep_level1(side.level1)


def pair_rows(bundle: ModelBundle, side: Side, nodes: list[int], chunk: int,
              beat: Beat = no_beat) -> PairRows:
    """The :class:`PairRows` of distinct ``nodes`` (each with an indexed vector)."""
    k = bundle.frozen.sampling.fanout
    slots = [side.samples.slots(n) for n in nodes]
    order = nodes + sorted({y for row in slots for y, _ in row}.difference(nodes))
    ensure_level1(bundle, side, order, chunk, beat)
    where = {g: r for r, g in enumerate(order)}
    nbr = np.full((len(nodes), k), len(order), dtype=np.int64)
    rel = np.zeros((len(nodes), k), dtype=np.int64)
    mask = np.zeros((len(nodes), k), dtype=bool)
    for r, row in enumerate(slots):
        for j, (y, relation) in enumerate(row):
            nbr[r, j], rel[r, j], mask[r, j] = where[y], relation, True
    return PairRows(order=order, nbr=torch.from_numpy(nbr), rel=torch.from_numpy(rel),
                    mask=torch.from_numpy(mask), h1=side.level1.rows(order),
                    vectors=torch.from_numpy(side.vectors(nodes)))


def _evidence(bundle: ModelBundle, rows: tuple[PairRows, PairRows],
              at: tuple[torch.Tensor, torch.Tensor], cross: torch.Tensor,
              top: int) -> list[list[NeighbourPair]]:
    """The ``top`` evidence entries per pair (:func:`model.evidence.top_evidence`), with the
    neighbours as global indices."""
    tables = []
    for r, i in zip(rows, at, strict=True):
        order = torch.tensor([*r.order, -1], dtype=torch.int64)  # padding slot: no weight
        tables.append((order[r.nbr[i]], r.rel[i]))
    return top_evidence(cross, tables[0], tables[1], bundle.frozen.vocab.relations, top)


def _attend(bundle: ModelBundle, rows: tuple[PairRows, PairRows],
            at: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, PairOutput]:
    """Logits of the pairs ``(at[0][p], at[1][p])`` and their last-layer output."""
    net = bundle.net
    ma, mb = (net.layer2.messages(r.h1, i, r.nbr, r.rel, r.mask)
              for r, i in zip(rows, at, strict=True))
    out = net.attend(ma, mb)
    va = net.swap_h2(rows[0].vectors[at[0]], out.h2_a, query=True)
    vb = net.swap_h2(rows[1].vectors[at[1]], out.h2_b, query=False)
    return _biased(bundle, (va * vb).sum(-1)), out


def _biased(bundle: ModelBundle, dots: torch.Tensor) -> torch.Tensor:
    """Inner products of explicit vectors as the model's logits (BCE: plus its bias)."""
    net = bundle.net
    return dots + net.bce_bias if net.loss == "bce" else dots


def _retrieval_logits(bundle: ModelBundle, sides: tuple[Side, Side], lefts: list[int],
                      rights: list[int]) -> torch.Tensor:
    """Pair logits of a model without cross-graph attention: its pair score *is* the retrieval
    score (α uniform gives the retrieval ``h2``), read from the indexed vectors alone."""
    return _biased(bundle, (torch.from_numpy(sides[0].vectors(lefts))
                            * torch.from_numpy(sides[1].vectors(rights))).sum(-1))


def side_view(bundle: ModelBundle, side: Side, nodes: list[int]) -> PairView:
    """The pair head's evidence rows of ``nodes`` (``model.pair_head.view_from_table`` of the
    full graph, read from the samples and the level-0 name cache)."""
    k, n_anchors = bundle.frozen.sampling.fanout, len(bundle.frozen.anchors)
    index, keys = bundle.anchor_index(0 if side.query else 1), side.graph.keys
    slots = [side.samples.slots(x) for x in nodes]
    table = list(dict.fromkeys([*nodes, *(y for row in slots for y, _ in row)]))
    local, glob = side.graph.local_graph(table, np.zeros((0, 3), dtype=np.int64))
    names = side.features.level0(local, glob).names
    where = {g: r for r, g in enumerate(table)}
    rel = np.zeros((len(nodes), k), dtype=np.int64)
    first = np.full((len(nodes), k), n_anchors, dtype=np.int64)
    second = np.full((len(nodes), k, k), n_anchors, dtype=np.int64)
    adj_rows, adj_cols = [], []
    for r, (x, row) in enumerate(zip(nodes, slots, strict=True)):
        for j, (y, relation) in enumerate(row):
            rel[r, j], first[r, j] = relation, index.get(keys[y], n_anchors)
            adj_rows.append(r)
            adj_cols.append(where[y])
            for m, (z, _) in enumerate(side.samples.slots(y)):
                if z != x:
                    second[r, j, m] = index.get(keys[z], n_anchors)
    adj = sp.csr_matrix((np.ones(len(adj_rows), dtype=np.float32), (adj_rows, adj_cols)),
                        shape=(len(nodes), len(table)))
    return pair_view(names[:len(nodes)], adj @ names, rel, first, second, n_anchors)


def _link(bundle: ModelBundle, sides: tuple[Side, Side], lefts: list[int], rights: list[int],
          logits: torch.Tensor) -> np.ndarray:
    """The published score of pairs with these model logits: the pair head's probability where
    the model has one, else the model's own link (sigmoid for BCE, the cosine for hinge)."""
    head = bundle.pair_head
    if head is None:
        return (torch.sigmoid(logits) if bundle.net.loss == "bce" else logits).numpy()
    ua, ra = np.unique(lefts, return_inverse=True)
    ub, rb = np.unique(rights, return_inverse=True)
    views = side_view(bundle, sides[0], ua.tolist()), side_view(bundle, sides[1], ub.tolist())
    return head.scores(features(views[0], ra, views[1], rb, logits.numpy()))


@torch.no_grad()
def score_pairs(bundle: ModelBundle, sides: tuple[Side, Side], pairs: Sequence[tuple[int, int]],
                chunk: int, evidence: int = 0, progress: Progress = no_progress
                ) -> tuple[np.ndarray, list[list[NeighbourPair]]]:
    """Scores of ``pairs`` (global ``(left, right)`` indices, each entity indexed) and, if
    asked, their evidence; ``chunk`` bounds a local encode of entities without a kept ``h1``.
    A model trained without cross-graph attention is scored from the vectors alone."""
    scores = np.zeros(len(pairs), dtype=np.float32)
    explained: list[list[NeighbourPair]] = [[] for _ in pairs] if evidence else []
    blocks = range(0, len(pairs), PAIR_BLOCK)
    for done, start in enumerate(chunks(blocks, progress, "pair scores")):
        block = pairs[start:start + PAIR_BLOCK]
        lefts, rights = [a for a, _ in block], [b for _, b in block]
        if not (evidence or bundle.arch.cross_attention):  # no re-rank to pay for
            logits = _retrieval_logits(bundle, sides, lefts, rights)
        else:
            beat = partial(progress, "pair scores", done, len(blocks))
            rows = (pair_rows(bundle, sides[0], sorted(set(lefts)), chunk, beat),
                    pair_rows(bundle, sides[1], sorted(set(rights)), chunk, beat))
            at = rows[0].positions(lefts), rows[1].positions(rights)
            logits, out = _attend(bundle, rows, at)
            if evidence:
                explained[start:start + len(block)] = _evidence(bundle, rows, at, out.cross,
                                                                evidence)
        scores[start:start + len(block)] = _link(bundle, sides, lefts, rights, logits)
    return scores, explained
