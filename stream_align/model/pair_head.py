"""The pair head: a pair's score from full-resolution evidence, not from the 256 floats alone.

The retrieval vector only has to *retrieve* (its top 10 hold the gold partner of 97 % of the
DBP15K zh_en test sources); squeezing names, neighbour names and anchors into 256 floats is
what loses the last points of ranking (decision 0024). The pair head scores each candidate
pair from the model's own pair score plus five learning-free similarities of the two entities
at full resolution, all read from what the encoder already reads (the entity's level-0 names
and its 2-hop *sample*, so the streaming engine re-scores exactly the pairs it re-scores now):

==========================  ================================================================
feature                     similarity of the two entities' …
==========================  ================================================================
``score``                   model pair score (cross-graph attention, or retrieval without α)
``names``                   character n-gram TF-IDF name vectors (cosine)
``neighbour_names``         summed name vectors of the sampled neighbours (cosine)
``neighbour_anchors``       sets of seed anchors among the sampled neighbours (set cosine)
``relation_anchors``        sets of (relation, anchor) of the sampled edges (set cosine)
``two_hop_anchors``         sets of anchors two sampled hops away, paths back excluded
==========================  ================================================================

A logistic regression over these, fitted after training on the validation pairs against their
retrieval candidates (both directions, every entity of the other graph competing), gives a
probability: the service's ``match_threshold`` of 0.5 means "more likely a match than not" on
every dataset. Set features hash their keys into ``2^30`` columns (collisions between two
entities' few dozen keys are negligible) so both graphs share one key space.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize

from stream_align.model.inputs import GraphInputs
from stream_align.model.structure import _key

FEATURES = ("score", "names", "neighbour_names", "neighbour_anchors", "relation_anchors",
            "two_hop_anchors")
_WIDTH = np.uint64(1 << 30)
#: Inverse regularisation of the head's fit: six weights over thousands of candidate pairs.
C = 1.0


@dataclass
class PairView:
    """Unit evidence rows of some entities of one graph, one CSR block per set/vector feature
    (``FEATURES[1:]``), row ``r`` for the ``r``-th entity."""

    blocks: list[sp.csr_matrix]


def _set_rows(rows: np.ndarray, keys: np.ndarray, n: int) -> sp.csr_matrix:
    """Distinct keys per row as a binary, unit-normalised sparse row (a set's cosine)."""
    cols = (keys % _WIDTH).astype(np.int64)
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, 1 << 30))
    m.sum_duplicates()
    m.data[:] = 1.0
    return normalize(m).astype(np.float32).tocsr()


def pair_view(names: sp.csr_matrix, neighbour_names: sp.csr_matrix, rel: np.ndarray,
              anchors1: np.ndarray, anchors2: np.ndarray, n_anchors: int) -> PairView:
    """The view of ``n`` entities: their ``names`` rows, the sum of their sampled neighbours'
    name rows, the relation ids ``(n, k)`` and anchor ids ``(n, k)`` of their sampled slots and
    the anchor ids ``(n, k, k)`` two hops away (``n_anchors`` marks no anchor, a padded slot
    or a path back to the entity)."""
    n, k = rel.shape if rel.ndim == 2 else (len(anchors1), 0)
    has1 = anchors1 < n_anchors
    rows1 = np.repeat(np.arange(n), k).reshape(n, k)[has1]
    has2 = anchors2 < n_anchors
    rows2 = np.repeat(np.arange(n), k * k).reshape(anchors2.shape)[has2]
    return PairView(blocks=[
        normalize(names.astype(np.float32)).tocsr(),
        normalize(neighbour_names.astype(np.float32)).tocsr(),
        _set_rows(rows1, _key(0, anchors1[has1]), n),
        _set_rows(rows1, _key(1, rel[has1], anchors1[has1]), n),
        _set_rows(rows2, _key(3, anchors2[has2]), n),
    ])


def view_from_table(names: sp.csr_matrix, anchors: np.ndarray, nbr: np.ndarray,
                    rel: np.ndarray, mask: np.ndarray, rows: np.ndarray,
                    n_anchors: int) -> PairView:
    """The view of ``rows`` of a whole neighbour table (``nbr``/``rel``/``mask`` over all
    rows, ``names``/``anchors`` per row): what a batch scorer holds for a whole graph."""
    n, k = nbr.shape
    nbr_p = np.vstack([nbr, np.full((1, k), n)])
    mask_p = np.vstack([mask, np.zeros((1, k), dtype=bool)])
    anchor_p = np.append(anchors, n_anchors)
    hop1 = np.where(mask[rows], nbr[rows], n)  # (R, k)
    adj = sp.csr_matrix((np.ones(int(mask[rows].sum()), dtype=np.float32),
                         (np.repeat(np.arange(len(rows)), k).reshape(-1, k)[mask[rows]],
                          hop1[mask[rows]])), shape=(len(rows), n))
    hop2 = np.where(mask_p[hop1], nbr_p[hop1], n)  # (R, k, k)
    hop2 = np.where(hop2 == rows[:, None, None], n, hop2)
    return pair_view(names[rows], adj @ names, rel[rows], anchor_p[hop1], anchor_p[hop2],
                     n_anchors)


class GraphEvidence:
    """A whole graph's inputs as the table batch views are cut from."""

    def __init__(self, g: GraphInputs, n_anchors: int) -> None:
        coo = g.names.coalesce()
        idx = coo.indices().numpy()
        self.names = sp.csr_matrix((coo.values().numpy(), (idx[0], idx[1])),
                                   shape=tuple(coo.shape), dtype=np.float32)
        self.anchors, self.nbr = g.anchors.numpy(), g.nbr.numpy()
        self.rel, self.mask, self.n_anchors = g.rel.numpy(), g.mask.numpy(), n_anchors

    def view(self, rows: np.ndarray) -> PairView:
        return view_from_table(self.names, self.anchors, self.nbr, self.rel, self.mask,
                               np.asarray(rows, dtype=np.int64), self.n_anchors)


def pair_features(ev_a: GraphEvidence, ia: np.ndarray, ev_b: GraphEvidence, ib: np.ndarray,
                  score: np.ndarray) -> np.ndarray:
    """:func:`features` of pairs of two whole graphs (global indices; each entity viewed once)."""
    ua, ra = np.unique(ia, return_inverse=True)
    ub, rb = np.unique(ib, return_inverse=True)
    return features(ev_a.view(ua), ra, ev_b.view(ub), rb, score)


def features(view_a: PairView, ia: np.ndarray, view_b: PairView, ib: np.ndarray,
             score: np.ndarray) -> np.ndarray:
    """``float32 (P, len(FEATURES))`` for the pairs ``(ia[p], ib[p])`` (rows of the views)."""
    out = np.zeros((len(ia), len(FEATURES)), dtype=np.float32)
    out[:, 0] = score
    for f, (xa, xb) in enumerate(zip(view_a.blocks, view_b.blocks, strict=True), start=1):
        if len(ia):
            out[:, f] = np.asarray(xa[ia].multiply(xb[ib]).sum(axis=1)).ravel()
    return out


@dataclass(frozen=True)
class PairHead:
    """Logistic weights over :data:`FEATURES`; the pair score is the probability."""

    weights: tuple[float, ...]
    bias: float

    def logits(self, feats: np.ndarray) -> np.ndarray:
        return (feats.astype(np.float64) @ np.asarray(self.weights) + self.bias).astype(
            np.float32)

    def scores(self, feats: np.ndarray) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-self.logits(feats).astype(np.float64)))).astype(np.float32)

    def to_config(self) -> dict[str, object]:
        return {"features": list(FEATURES), "weights": list(self.weights), "bias": self.bias}

    @classmethod
    def from_config(cls, config: Mapping[str, object] | None) -> PairHead | None:
        """The head an artifact records (``None``: an artifact from before decision 0024)."""
        if config is None:
            return None
        if list(config["features"]) != list(FEATURES):  # type: ignore[call-overload]
            raise ValueError(f"pair head features {config['features']} are not {FEATURES}")
        weights = tuple(float(w) for w in config["weights"])  # type: ignore[attr-defined]
        return cls(weights=weights, bias=float(config["bias"]))  # type: ignore[arg-type]


def fit(feats: np.ndarray, labels: np.ndarray) -> PairHead | None:
    """The head of the labelled candidate pairs; ``None`` where both classes are not there."""
    if len(np.unique(labels)) < 2:
        return None
    model = LogisticRegression(C=C, max_iter=2000).fit(feats.astype(np.float64), labels)
    return PairHead(weights=tuple(float(w) for w in model.coef_[0]),
                    bias=float(model.intercept_[0]))
