"""Everything frozen at training time, and the tensors a graph becomes under it.

:class:`Frozen` is the non-learnt part of a model version: feature hashing settings and IDF,
relation/type vocabularies, sampling statistics per graph, the seed anchors and the sampling
salt. :func:`graph_inputs` turns any :class:`Graph` (the training graph or a later one) into the
encoder's inputs under those frozen choices — the same entity with the same neighbourhood always
gets the same features and the same sample.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from stream_align.graph import Graph, GraphPair
from stream_align.model.features import Level0, fit_idf, level0
from stream_align.model.sampling import Neighbourhood, average_counts, key_hashes, sample
from stream_align.model.settings import FeatureSettings, SamplingSettings
from stream_align.model.sparse_rows import SparseRows, unit_rows
from stream_align.model.structure import structure_skips
from stream_align.model.vocab import Vocab, build_vocab, directed_edges


@dataclass
class Frozen:
    """The non-learnt half of a model version."""

    features: FeatureSettings
    sampling: SamplingSettings
    vocab: Vocab
    name_idf: np.ndarray
    attr_idf: np.ndarray
    avg_counts: dict[str, np.ndarray]  # graph label → float32 (n_types, n_relations)
    anchors: list[tuple[str, str]]  # seed pairs (key in A, key in B)
    _anchor_index: dict[int, tuple[int, dict[str, int]]] = field(default_factory=dict, init=False,
                                                     repr=False, compare=False)

    @property
    def salt(self) -> str:
        return f"stream-align/sampling/{self.sampling.seed}"

    def set_anchors(self, start: int, pairs: list[tuple[str, str]]) -> None:
        """Anchors from ``start`` on become ``pairs`` (self-training adds or re-chooses its
        pseudo anchors, decision 0052); the cached indexes are dropped, as the same count
        can now hold other pairs."""
        self.anchors[start:] = pairs
        self._anchor_index.clear()

    def anchor_index(self, side: int) -> dict[str, int]:
        """Anchor number of each seed key of one side (0: A), built again only when anchors
        were added (self-training extends the list): the engine reads it for every local
        graph (9,252 anchors on DBP15K zh_en: ≈ 7 ms a build)."""
        count, index = self._anchor_index.get(side, (-1, {}))
        if count != len(self.anchors):
            index = {pair[side]: k for k, pair in enumerate(self.anchors)}
            self._anchor_index[side] = (len(self.anchors), index)
        return index


@dataclass
class GraphInputs:
    """Encoder inputs of one graph; neighbour tables pad with index ``n`` (a zero row)."""

    graph: Graph
    names: torch.Tensor  # sparse COO (n, name_dim)
    skips: list[SparseRows | torch.Tensor]  # fixed blocks (n, dim), unit rows or zero
    attrs: torch.Tensor  # sparse COO (n, attr_dim)
    numeric: torch.Tensor  # (n, numeric_dim)
    types: torch.Tensor  # int64 (n,)
    anchors: torch.Tensor  # int64 (n,), n_anchors where none
    nbr: torch.Tensor  # int64 (n, k)
    rel: torch.Tensor  # int64 (n, k)
    mask: torch.Tensor  # bool (n, k)

    @property
    def n(self) -> int:
        return self.graph.num_entities


def coo_tensor(m: sp.csr_matrix) -> torch.Tensor:
    """A coalesced COO tensor; a canonical CSR's entries are already sorted and unique, so
    declaring it coalesced skips torch's sort (the hot spot of small local encodes)."""
    m = m.tocsr()
    m.sum_duplicates()
    m.sort_indices()
    coo = m.tocoo()
    index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(index, torch.from_numpy(coo.data.astype(np.float32)),
                                   size=m.shape, check_invariants=False, is_coalesced=True)


def fit_frozen(pair: GraphPair, features: FeatureSettings, sampling: SamplingSettings) -> Frozen:
    """Fit vocabularies, IDF and sampling statistics on the training graphs."""
    vocab = build_vocab(pair.a, pair.b, features.inferred_types, sampling.seed)
    name_idf, attr_idf = fit_idf([pair.a, pair.b], features)
    avg = {}
    for g in (pair.a, pair.b):
        edges = directed_edges(g, vocab.relation_ids(g))
        avg[g.label] = average_counts(edges, vocab.type_ids(g, edges), len(vocab.types),
                                      len(vocab.relations))
    anchors = [(pair.a.keys[i], pair.b.keys[j]) for i, j in pair.train.tolist()]
    return Frozen(features, sampling, vocab, name_idf, attr_idf, avg, anchors)


def anchor_ids(graph: Graph, frozen: Frozen) -> np.ndarray:
    index = frozen.anchor_index(0 if graph.label == "A" else 1)
    return np.array([index.get(key, len(frozen.anchors)) for key in graph.keys], dtype=np.int64)


def anchor_pairs(ga: GraphInputs, gb: GraphInputs, n_anchors: int) -> torch.Tensor:
    """``(m, 2)`` entity ids of the anchors present in both graphs (seed and pseudo), in
    anchor order: the pairs a fit on the anchors reads."""
    rows = []
    for g in (ga, gb):
        at = torch.full((n_anchors,), -1, dtype=torch.int64)
        has = g.anchors < n_anchors
        at[g.anchors[has]] = torch.nonzero(has).squeeze(1)
        rows.append(at)
    both = (rows[0] >= 0) & (rows[1] >= 0)
    return torch.stack([rows[0][both], rows[1][both]], 1)


def name_skips(names: sp.csr_matrix, hood: Neighbourhood, hops: int,
               features: FeatureSettings) -> list[SparseRows]:
    """Raw name vectors of the entity (:func:`own_names`), then the mean over its sampled
    neighbours per hop (from ``names`` as given, before :func:`own_names` sorts it).

    Parameter-free, so the model starts at name + neighbour-name similarity (the learning-free
    propagation baseline) and training only has to add what names cannot say.
    """
    adj = _adjacency(hood)
    out, current = [], names
    for _ in range(hops):
        current = unit_rows(adj @ current)
        out.append(SparseRows.from_csr(current))
    return [own_names(names, features), *out]


def _adjacency(hood: Neighbourhood) -> sp.csr_matrix:
    n = hood.nbr.shape[0]
    rows = np.repeat(np.arange(n), hood.nbr.shape[1])[hood.mask.ravel()]
    return sp.csr_matrix((np.ones(len(rows), dtype=np.float32),
                          (rows, hood.nbr.ravel()[hood.mask.ravel()])), shape=(n, n))


def own_names(names: sp.csr_matrix, features: FeatureSettings) -> SparseRows:
    """The own-names block of ``names``, which is left canonical (columns ascending,
    duplicates summed: sorted in place, as :func:`coo_tensor` then finds it).

    ``features.name_block`` ``"own"``: each n-gram's weight under its own column.
    ``"permuted"`` (every artifact trained before decision 0101): the block as those models
    were trained on it — built sharing the matrix's values before the in-place sort, so a row
    whose hashed columns were not ascending keeps its columns in hashed order with its values
    in ascending column order (each name's weights permuted among its own columns)."""
    block = SparseRows.from_csr(names) if features.name_block == "permuted" else None
    names.sum_duplicates()
    names.sort_indices()
    return SparseRows.from_csr(names) if block is None else block


def anchor_skip(anchors: np.ndarray, n_anchors: int, hood: Neighbourhood,
                dim: int) -> SparseRows:
    """Unit mean of the (hashed one-hot) seed anchors among an entity's sampled neighbours.

    The learning-free form of "my neighbours are aligned to yours"; the entity's own anchor is
    not in it (it would make seed pairs trivially equal in training).
    """
    return anchor_mean(_adjacency(hood), anchors, n_anchors, dim)


def anchor_mean(adj: sp.csr_matrix, anchors: np.ndarray, n_anchors: int,
                dim: int) -> SparseRows:
    """:func:`anchor_skip` of the rows of ``adj`` (``(rows, len(anchors))``: each row's
    sampled neighbours among the entities whose ``anchors`` are given)."""
    real = np.flatnonzero(anchors < n_anchors)
    buckets = (anchors[real].astype(np.uint64) * np.uint64(2654435761)) % np.uint64(dim)
    onehot = sp.csr_matrix((np.ones(len(real), dtype=np.float32),
                            (real, buckets.astype(np.int64))), shape=(len(anchors), dim))
    return SparseRows.from_csr(unit_rows(adj @ onehot))


def graph_inputs(graph: Graph, frozen: Frozen, skip_hops: int | None,
                 anchor_dim: int = 0, structure_dim: int = 0, *,
                 feats: Level0 | None = None, hashes: np.ndarray | None = None,
                 read: int | None = None, anchors: np.ndarray | None = None
                 ) -> GraphInputs:
    """Features and deterministic sample of ``graph`` under the frozen choices; fixed skip
    blocks: raw names for hops ``0..skip_hops`` (none when ``None``), then neighbour anchors
    (when ``anchor_dim``), then the structural blocks (when ``structure_dim``). ``read``: only
    the first ``read`` entities get a type and a sample (each a function of the entity's own
    edges), the others none — for a caller that reads nothing they feed (the engine's local
    recompute, ``engine.recompute``). ``anchors``: each entity's :func:`anchor_ids`, where
    the caller keeps them per entity (then ``graph.keys`` is not read)."""
    if feats is None:  # the streaming engine passes the rows (and key hashes) it has cached
        feats = level0(graph, frozen.features, frozen.name_idf, frozen.attr_idf)
    edges = directed_edges(graph, frozen.vocab.relation_ids(graph))
    if read is not None:
        edges = edges[edges[:, 0] < read]
    types = frozen.vocab.type_ids(graph, edges)
    avg = frozen.avg_counts.get(graph.label, np.ones((1, 1), dtype=np.float32))
    if hashes is None:
        hashes = key_hashes(graph.keys, frozen.salt)
    hood = sample(edges, graph.num_entities, hashes, types, avg, frozen.sampling.fanout)
    if anchors is None:
        anchors = anchor_ids(graph, frozen)
    skips = ([] if skip_hops is None
             else name_skips(feats.names, hood, skip_hops, frozen.features))
    if anchor_dim:
        skips.append(anchor_skip(anchors, len(frozen.anchors), hood, anchor_dim))
    if structure_dim:
        skips += structure_skips(anchors, len(frozen.anchors), hood, structure_dim)
    return GraphInputs(
        graph=graph,
        names=coo_tensor(feats.names),
        skips=skips,
        attrs=coo_tensor(feats.attrs),
        numeric=torch.from_numpy(feats.numeric),
        types=torch.from_numpy(types),
        anchors=torch.from_numpy(anchors),
        nbr=torch.from_numpy(hood.nbr),
        rel=torch.from_numpy(hood.rel),
        mask=torch.from_numpy(hood.mask),
    )


def content_hash(parts: list[bytes]) -> str:
    """Short stable digest (the model version is the hash of weights and config)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()[:16]
