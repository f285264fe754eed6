"""Level-wise recompute of a large chunk: each level's rows from the rows of the level below.

A bulk drain's chunk ``D`` is small against its graph and its neighbours are all queued, so the
local encode (``recompute.encode_local``) builds a graph of the summaries of ``D ∪ S(D) ∪
S(S(D))`` and their endpoints, and types, samples and encodes every row of it: 10–30 rows a
vector at 1–5 % of a side, 500–1,600 µs a vector (decision 0094). The encoder needs none of that
graph: under frozen statistics each node's type and sample are kept (``SampleIndex``), its
features too (``FeatureCache``), and each layer's row reads only its own inputs and its sampled
neighbours' rows of the layer below. So, per chunk:

1. ``h0`` of ``E ∪ S(E)`` — ``E`` the nodes whose ``h1`` is encoded, as in ``encode_local``: ``D``
   and its stale or unkept neighbours — from each node's own features, kept type and anchor
   (:class:`LevelZeroRows` keeps them a node, valid while the node's stamp and type stay);
2. ``h1`` of ``E`` from those rows through the slot table, kept in ``level1_cache``; the other
   neighbours' ``h1`` read from it — and so are the rows of ``E`` put since their node was
   last affected (``LevelOneCache.current``): a queued neighbour encoded by an earlier chunk
   or drain call is read, not encoded again, so a drain encodes a node's ``h1`` about once
   (decision 0102);
3. the last layer and the fixed blocks of ``D`` (names, neighbour names, neighbour anchors) from
   ``D ∪ S(D)``'s rows.

One row a node a level, in blocks: no summary gather, local graph, typing or sampling. The rows
come out as a local encode's but for float rounding: a dense product's row can take other bits
with another number of rows around it (decision 0094), and so can a local encode's. So it is a
setting (``recompute_levelwise_from``; decision 0095 measured what it moves), and only for
models whose fixed blocks read one hop (name skips of at most one hop, no structural blocks:
:func:`supported`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
import torch
from torch.nn import functional as F

from stream_align import setops
from stream_align.arrays import grown, positions
from stream_align.engine.progress import Beat, no_beat
from stream_align.model.bundle import ModelBundle
from stream_align.model.encoder import Parts, pad_row
from stream_align.model.inputs import anchor_mean, coo_tensor, own_names
from stream_align.model.sparse_rows import SparseRows, unit_rows

if TYPE_CHECKING:
    from stream_align.engine.side import Side

BLOCK = 32_768
"""``h0`` rows computed at a time (their sparse feature rows: ≈ 0.4 KB each on DBP15K)."""


def supported(bundle: ModelBundle) -> bool:
    """Whether every fixed block of a node reads only its own and its sampled neighbours'
    inputs: name skips of at most one hop, no structural blocks (those read the 2-hop
    sample)."""
    arch = bundle.arch
    names = not arch.name_skip or arch.name_skip_hops <= 1
    return names and not (arch.use_anchors and arch.structure_dim)


class LevelZeroRows:
    """``h0`` of one graph's nodes, a row each, valid for the stamp and type it was computed
    at (``h0`` reads the node's features, which change only with its stamp, its type and its
    anchor, fixed by its key): ``hidden_dim`` floats, 8 + 4 bytes a node. A table sized by
    node, not an object a node; emptied when the queue drains (``stages.Recompute``)."""

    def __init__(self) -> None:
        self._rows = np.zeros((0, 0), dtype=np.float32)
        self._stamp = np.zeros(0, dtype=np.int64)  # -1: no row
        self._type = np.zeros(0, dtype=np.int32)

    def rows(self, bundle: ModelBundle, side: Side, nodes: np.ndarray) -> torch.Tensor:
        """``(len(nodes), d)``: ``h0`` of distinct ``nodes`` of ``side``, the missing or
        outdated rows computed first."""
        d = bundle.arch.hidden_dim
        if self._rows.shape[1] != d:
            self._rows = np.zeros((0, d), dtype=np.float32)
        if len(nodes):
            size = int(nodes.max()) + 1
            self._rows = grown(self._rows, size, 0.0)
            self._stamp, self._type = grown(self._stamp, size, -1), grown(self._type, size, -1)
        stamps, types = side.graph.stamps(nodes), side.samples.types(nodes)
        todo = (self._stamp[nodes] != stamps) | (self._type[nodes] != types)
        for start in range(0, int(todo.sum()), BLOCK):
            part = nodes[todo][start:start + BLOCK]
            self._rows[part] = _level0(bundle, side, part).numpy()
        self._stamp[nodes[todo]], self._type[nodes[todo]] = stamps[todo], types[todo]
        return torch.from_numpy(self._rows[nodes])

    @property
    def held(self) -> bool:
        """Whether any row is held (a level-wise drain's, until :meth:`clear`)."""
        return bool(len(self._stamp))

    def clear(self) -> None:
        """Drop every row (the queue is drained: nothing reads them until the next load)."""
        self._rows = np.zeros((0, 0), dtype=np.float32)
        self._stamp = np.zeros(0, dtype=np.int64)
        self._type = np.zeros(0, dtype=np.int32)

    def nbytes(self) -> int:
        """Bytes held by the tables."""
        return int(self._rows.nbytes + self._stamp.nbytes + self._type.nbytes)


def _level0(bundle: ModelBundle, side: Side, nodes: np.ndarray) -> torch.Tensor:
    """``h0`` of ``nodes`` from their own inputs (``CGMuAlign.level0`` without a graph)."""
    net = bundle.net
    feats = side.features.level0(nodes)
    anchors = torch.from_numpy(side.anchor_ids(nodes)).clamp(
        max=net.anchor_emb.num_embeddings - 1)
    return net.level0_of(coo_tensor(feats.names), coo_tensor(feats.attrs),
                         torch.from_numpy(feats.numeric),
                         torch.from_numpy(side.samples.types(nodes)), anchors)


@torch.no_grad()
def encode_levelwise(bundle: ModelBundle, side: Side, nodes: Sequence[int],
                     stale: Collection[int], beat: Beat = no_beat) -> np.ndarray:
    """``float32 (len(nodes), D)`` retrieval vectors of distinct ``nodes`` of ``side``
    (``Side``), as ``encode_local`` with the kept rows and ``row_vectors`` give them; the
    ``h1`` of every node encoded here is kept in ``side.level1``. ``stale``: the nodes whose
    kept ``h1`` is outdated (affected or queued) unless put since they were last affected
    (``LevelOneCache.current``: a neighbour encoded by an earlier chunk of the drain)."""
    net, samples = bundle.net, side.samples
    mine = np.asarray(nodes, dtype=np.int64)
    nbr, rel = samples.slot_table(mine)
    # D first, then the other sampled neighbours ascending: encode_local's local order
    rest = setops.setdiff1d(setops.unique(nbr[nbr >= 0]), mine)
    table = np.concatenate([mine, rest])
    encoded = table[_outdated(side, table, len(mine), stale)]
    if len(encoded):
        side.level1.put(encoded, level1(bundle, side, encoded))
    beat()
    rows = side.level1.rows(table.tolist())  # and the zero row padded slots read
    at = torch.from_numpy(positions(table, nbr))
    every = torch.arange(len(mine))
    mask = torch.from_numpy(nbr >= 0)
    h2 = net.layer2.combine(net.layer2.messages(rows, every, at, torch.from_numpy(rel), mask))
    learnt = [F.normalize(side.level0.rows(bundle, side, mine), dim=-1),
              F.normalize(rows[:len(mine)], dim=-1), F.normalize(h2, dim=-1)]
    blocks = net.fixed_blocks(_skips(bundle, side, table, at.numpy(), nbr >= 0))
    beat()
    return net.vectors(Parts(learnt + blocks), side.query).numpy().astype(np.float32)


def _outdated(side: Side, table: np.ndarray, own: int, stale: Collection[int]) -> np.ndarray:
    """Which rows of ``table`` (the chunk's ``own`` nodes, then their sampled neighbours)
    need their ``h1`` encoded: a node without a row, or one not put since it was last affected
    (the chunk's own nodes, and the ``stale`` neighbours)."""
    level1, rest = side.level1, table[own:]
    out = ~level1.current(table)
    out[own:] &= np.fromiter((y in stale for y in rest.tolist()), dtype=bool, count=len(rest))
    out[own:] |= setops.isin(rest, np.asarray(level1.missing(rest), dtype=np.int64))
    return out


def level1(bundle: ModelBundle, side: Side, encoded: np.ndarray) -> torch.Tensor:
    """``h1`` of ``encoded`` (``(len, d)``) from the ``h0`` rows of them and their sampled
    neighbours (``encoded`` first, then the others ascending)."""
    nbr, rel = side.samples.slot_table(encoded)
    below = np.concatenate([encoded, setops.setdiff1d(setops.unique(nbr[nbr >= 0]), encoded)])
    h0 = side.level0.rows(bundle, side, below)
    return bundle.net.layer1(pad_row(h0), torch.from_numpy(positions(below, nbr)),
                             torch.from_numpy(rel), torch.from_numpy(nbr >= 0))


def _skips(bundle: ModelBundle, side: Side, table: np.ndarray, at: np.ndarray,
           mask: np.ndarray) -> list[SparseRows | torch.Tensor]:
    """The fixed blocks of the first ``len(at)`` rows of ``table`` (``graph_inputs``'s: own
    names, the unit sum of the sampled neighbours' names, of their anchors), from the rows of
    ``table``; ``at``: their sampled neighbours' positions in it."""
    arch = bundle.arch
    n = len(at)
    picked = np.repeat(np.arange(n), at.shape[1])[mask.ravel()]
    cols = at.ravel()[mask.ravel()]
    adj = sp.csr_matrix((np.ones(len(picked), dtype=np.float32), (picked, cols)),
                        shape=(n, len(table)))
    out: list[SparseRows | torch.Tensor] = []
    if arch.name_skip:
        names = side.features.names(table)
        out.append(own_names(names[:n], bundle.frozen.features))
        if arch.name_skip_hops:
            out.append(SparseRows.from_csr(unit_rows(adj @ names)))
    if arch.use_anchors and arch.anchor_skip_dim:
        out.append(anchor_mean(adj, side.anchor_ids(table), len(bundle.frozen.anchors),
                               arch.anchor_skip_dim))
    return out

