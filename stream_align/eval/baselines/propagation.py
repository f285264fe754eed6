"""Learning-free collective alignment: name similarity plus neighbour-similarity propagation.

One round is ``S ← S + λ · Â₁ S Â₂ᵀ``: a pair gains the mean similarity of its neighbour pairs.
``Â`` is the row-normalised adjacency of each graph with both edge directions and no relation
labels (multi-edges collapse to 1, no self loops).

``S₀`` is names (character n-gram TF-IDF cosine) **anchored by the training pairs**: a seed
entity's row/column is replaced by a one-hot on its counterpart, so known matches propagate with
full weight and seeds never compete with test entities. Validation pairs are *not* anchors (they
stay unseen, for tuning ``λ``). On a name-blind track ``S₀`` is the anchors alone — without seeds
this baseline has nothing to propagate.

Memory: the dense ``|A| × |B|`` matrix is never built. ``S₀`` stays factorised
(:class:`FactoredScorer`); before each round the current ``S`` is computed row block by row block
and sparsified to its ``k`` largest entries per A row (``prior``); a block of the next ``S`` is
then ``S_prev[block] + λ · (Â₁[rows] · prior) · Â₂[cols]ᵀ``, exact for the rows and columns asked.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from stream_align.eval.baselines.factored import FactoredScorer, row_dots
from stream_align.eval.baselines.names import name_features
from stream_align.eval.scorer import PairScorer
from stream_align.graph import Graph, GraphPair

#: Entries of ``S`` kept per A entity between rounds.
TOP_K = 50
ROW_BLOCK = 512


def adjacency(graph: Graph) -> sp.csr_matrix:
    """Row-normalised, symmetric, binary adjacency ``Â`` of ``graph`` (``float32``)."""
    n = graph.num_entities
    heads, tails = graph.triples[:, 0], graph.triples[:, 2]
    loop = heads == tails
    heads, tails = heads[~loop], tails[~loop]
    edges = sp.coo_matrix((np.ones(2 * len(heads), dtype=np.float32),
                           (np.r_[heads, tails], np.r_[tails, heads])), shape=(n, n)).tocsr()
    edges.data[:] = 1.0
    degree = np.asarray(edges.sum(axis=1)).ravel()
    inverse = np.divide(1.0, degree, out=np.zeros_like(degree), where=degree > 0)
    return (sp.diags(inverse.astype(np.float32)) @ edges).tocsr()


def anchored_features(pair: GraphPair) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Name features with every training pair's rows replaced by a shared one-hot anchor."""
    seeds = pair.train
    names_a, names_b = name_features(pair)

    def anchor(features: sp.csr_matrix, seed_rows: np.ndarray) -> sp.csr_matrix:
        keep = np.ones(features.shape[0], dtype=np.float32)
        keep[seed_rows] = 0.0
        onehot = sp.csr_matrix((np.ones(len(seed_rows), dtype=np.float32),
                                (seed_rows, np.arange(len(seed_rows)))),
                               shape=(features.shape[0], len(seed_rows)))
        return sp.hstack([sp.diags(keep) @ features, onehot], format="csr")

    return anchor(names_a, seeds[:, 0]), anchor(names_b, seeds[:, 1])


def top_k_rows(scorer: PairScorer, pair: GraphPair, k: int) -> sp.csr_matrix:
    """Sparse ``|A| × |B|``: the ``k`` largest positive scores of each A entity against all B."""
    n_a, n_b = pair.a.num_entities, pair.b.num_entities
    k = min(k, n_b)
    all_b = np.arange(n_b)
    rows, cols, vals = [], [], []
    for start in tqdm(range(0, n_a, ROW_BLOCK), desc="propagation top-k", unit="block",
                      leave=False):
        block_rows = np.arange(start, min(n_a, start + ROW_BLOCK))
        block = scorer.similarity(pair, block_rows, all_b)
        best = np.argpartition(-block, k - 1, axis=1)[:, :k]
        rows.append(np.repeat(block_rows, k))
        cols.append(best.ravel())
        vals.append(np.take_along_axis(block, best, axis=1).ravel())
    prior = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_a, n_b), dtype=np.float32)
    prior.data[prior.data < 0] = 0.0
    prior.eliminate_zeros()
    return prior


class PropagationScorer:
    """``S_prev + λ · Â₁ · topk(S_prev) · Â₂ᵀ``, evaluated lazily for the rows/pairs asked."""

    def __init__(self, name: str, previous: PairScorer, adj_a: sp.csr_matrix,
                 adj_b: sp.csr_matrix, prior: sp.csr_matrix, lam: float) -> None:
        self.name, self.previous, self.lam = name, previous, lam
        self.adj_a, self.adj_b, self.prior = adj_a, adj_b, prior

    def similarity(self, pair: GraphPair, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        spread = (self.adj_a[sources] @ self.prior) @ self.adj_b[targets].T
        return self.previous.similarity(pair, sources, targets) + self.lam * spread.toarray()

    def score_pairs(self, pair: GraphPair, pairs: np.ndarray) -> np.ndarray:
        spread = row_dots(self.adj_a[pairs[:, 0]] @ self.prior, self.adj_b[pairs[:, 1]])
        return self.previous.score_pairs(pair, pairs) + self.lam * spread


def propagation_scorer(pair: GraphPair, rounds: int, lam: float,
                       top_k: int = TOP_K) -> PairScorer:
    """Fit the propagation baseline with ``rounds`` rounds on ``pair``."""
    scorer: PairScorer = FactoredScorer("names+anchors", *anchored_features(pair))
    adj_a, adj_b = adjacency(pair.a), adjacency(pair.b)
    for done in range(1, rounds + 1):
        prior = top_k_rows(scorer, pair, top_k)
        scorer = PropagationScorer(f"propagation{done}", scorer, adj_a, adj_b, prior, lam)
    return scorer
