"""The pair head: a pair's score from full-resolution evidence, not from the 256 floats alone.

The retrieval vector only has to *retrieve* (its top 10 hold the gold partner of 97 % of the
DBP15K zh_en test sources); squeezing names, neighbour names and anchors into 256 floats is
what loses the last points of ranking (decision 0024). The pair head scores each candidate
pair from the model's own pair score plus eight learning-free similarities of the two entities
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
``name_words``              sets of casefolded name words (Jaccard)
``name_exact``              the same set of name words (1 or 0)
``name_numbers``            numbers in the names: the same set 1, disjoint sets −1, else 0
==========================  ================================================================

The three word features read the two names only (decision 0031): n-gram cosines cannot tell
"Shenzhou 7" from "Shenzhou 3" or "(season 3)" from "(season 1)" — one character of twenty
— and numbers that disagree are the commonest near-miss in names (editions, seasons, models,
years). Numbers are the digit runs of a name and its Roman-numeral words of two letters or
more — ``xi`` included: decision 0031 excepted it as a pinyin syllable, which measured no
different on zh_en or Amazon–Google, the two sets whose names hold it (decision 0036).

A logistic regression over these, fitted after training on the validation pairs against their
retrieval candidates (both directions, every entity of the other graph competing), gives a
probability: the service's ``match_threshold`` of 0.5 means "more likely a match than not" on
every dataset. Set features hash their keys into ``2^30`` columns (collisions between two
entities' few dozen keys are negligible) so both graphs share one key space.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

from stream_align.model.inputs import GraphInputs
from stream_align.model.sparse_rows import unit_rows
from stream_align.model.structure import feature_key

FEATURES = ("score", "names", "neighbour_names", "neighbour_anchors", "relation_anchors",
            "two_hop_anchors", "name_words", "name_exact", "name_numbers")
#: How many of :data:`FEATURES` are cosines of a :class:`PairView` block (after ``score``).
COSINES = 5
_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"\d+")
_ROMAN = {"ii": 2, "iii": 3, "iv": 4, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "xi": 11, "xii": 12,
          "xiii": 13, "xiv": 14, "xv": 15, "xvi": 16, "xvii": 17, "xviii": 18, "xix": 19,
          "xx": 20}
_WIDTH = np.uint64(1 << 30)
#: Names whose word and number keys are kept (≈ 0.3 KB each: ≈ 20 MB at most).
NAME_KEYS_CACHED = 65_536
#: Inverse regularisation of the head's fit: nine weights over thousands of candidate pairs.
C = 1.0


@dataclass
class PairView:
    """Evidence rows of some entities of one graph, row ``r`` for the ``r``-th entity: one unit
    CSR block per cosine feature (``FEATURES[1:1 + COSINES]``), and the binary sets of name
    words and name numbers (:func:`name_sets`)."""

    blocks: list[sp.csr_matrix]
    words: sp.csr_matrix
    numbers: sp.csr_matrix


def _set_rows(rows: np.ndarray, keys: np.ndarray, n: int, unit: bool = True) -> sp.csr_matrix:
    """Distinct keys per row as a binary sparse row, unit-normalised (a set's cosine) unless
    not ``unit`` (then inner products count shared keys)."""
    cols = (keys % _WIDTH).astype(np.int64)
    m = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, 1 << 30))
    m.sum_duplicates()
    m.data[:] = 1.0
    return (unit_rows(m) if unit else m).astype(np.float32).tocsr()


def _numbers(words: list[str]) -> set[int]:
    out = {_ROMAN[w] for w in words if w in _ROMAN}
    out.update(int(d) for w in words for d in _DIGITS.findall(w))
    return out


def name_keys(name: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The hashed keys of a name's distinct casefolded words and of its numbers (a function
    of the string alone)."""
    words = _WORD.findall(name.casefold()) if name else []
    return (tuple(zlib.crc32(w.encode("utf-8")) for w in set(words)),
            tuple(x % (1 << 62) for x in _numbers(words)))


_name_keys = lru_cache(maxsize=NAME_KEYS_CACHED)(name_keys)
"""Cached, so a batch scorer does not run the regular expressions again for every entity of
every pair (the streaming engine keeps the keys per entity: ``engine.feature_cache``)."""


@dataclass
class NameKeys:
    """Name-word and name-number keys of ``n`` names, flat: ``counts`` per name, ``keys``
    concatenated (what :func:`name_sets` makes its binary rows from)."""

    word_counts: np.ndarray  # int64 (n,)
    word_keys: np.ndarray  # uint64
    num_counts: np.ndarray
    num_keys: np.ndarray

    @classmethod
    def of(cls, keys: Sequence[tuple[tuple[int, ...], tuple[int, ...]]]) -> NameKeys:
        """From :func:`name_keys` of each name."""
        word_counts = np.fromiter((len(w) for w, _ in keys), np.int64, len(keys))
        num_counts = np.fromiter((len(n) for _, n in keys), np.int64, len(keys))
        return cls(word_counts, np.fromiter((k for w, _ in keys for k in w), np.uint64,
                                            int(word_counts.sum())),
                   num_counts, np.fromiter((k for _, n in keys for k in n), np.uint64,
                                           int(num_counts.sum())))


def name_sets(names: Sequence[str] | NameKeys) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Binary rows of each name's casefolded words and of the numbers in it (keys hashed by
    CRC-32, which is stable across processes, unlike ``hash``); from the names or their
    :class:`NameKeys`."""
    keys = names if isinstance(names, NameKeys) else \
        NameKeys.of([_name_keys(name) for name in names])
    n = len(keys.word_counts)
    rows = np.arange(n, dtype=np.int64)
    return (_set_rows(np.repeat(rows, keys.word_counts), keys.word_keys, n, unit=False),
            _set_rows(np.repeat(rows, keys.num_counts), keys.num_keys, n, unit=False))


def pair_view(names: sp.csr_matrix, neighbour_names: sp.csr_matrix, rel: np.ndarray,
              anchors1: np.ndarray, anchors2: np.ndarray, n_anchors: int,
              texts: Sequence[str] | NameKeys) -> PairView:
    """The view of ``n`` entities: their ``names`` rows, the sum of their sampled neighbours'
    name rows, the relation ids ``(n, k)`` and anchor ids ``(n, k)`` of their sampled slots,
    the anchor ids ``(n, k, k)`` two hops away (``n_anchors`` marks no anchor, a padded slot
    or a path back to the entity) and their name strings ``texts`` (or those names' keys)."""
    n, k = rel.shape if rel.ndim == 2 else (len(anchors1), 0)
    has1 = anchors1 < n_anchors
    rows1 = np.repeat(np.arange(n), k).reshape(n, k)[has1]
    has2 = anchors2 < n_anchors
    rows2 = np.repeat(np.arange(n), k * k).reshape(anchors2.shape)[has2]
    words, numbers = name_sets(texts)
    return PairView(blocks=[
        unit_rows(names.astype(np.float32)).tocsr(),
        unit_rows(neighbour_names.astype(np.float32)).tocsr(),
        _set_rows(rows1, feature_key(0, anchors1[has1]), n),
        _set_rows(rows1, feature_key(1, rel[has1], anchors1[has1]), n),
        _set_rows(rows2, feature_key(3, anchors2[has2]), n),
    ], words=words, numbers=numbers)


def view_from_table(names: sp.csr_matrix, anchors: np.ndarray, nbr: np.ndarray,
                    rel: np.ndarray, mask: np.ndarray, rows: np.ndarray,
                    n_anchors: int, texts: Sequence[str]) -> PairView:
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
                     n_anchors, [texts[r] for r in rows.tolist()])


class GraphEvidence:
    """A whole graph's inputs as the table batch views are cut from."""

    def __init__(self, g: GraphInputs, n_anchors: int) -> None:
        coo = g.names.coalesce()
        idx = coo.indices().numpy()
        self.names = sp.csr_matrix((coo.values().numpy(), (idx[0], idx[1])),
                                   shape=tuple(coo.shape), dtype=np.float32)
        self.anchors, self.nbr = g.anchors.numpy(), g.nbr.numpy()
        self.rel, self.mask, self.n_anchors = g.rel.numpy(), g.mask.numpy(), n_anchors
        self.texts = g.graph.names

    def view(self, rows: np.ndarray) -> PairView:
        return view_from_table(self.names, self.anchors, self.nbr, self.rel, self.mask,
                               np.asarray(rows, dtype=np.int64), self.n_anchors, self.texts)


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
    if not len(ia):
        return out
    for f, (xa, xb) in enumerate(zip(view_a.blocks, view_b.blocks, strict=True), start=1):
        out[:, f] = pair_dots(xa, ia, xb, ib)
    words = _counts(view_a.words, ia, view_b.words, ib)
    union = words[0] + words[1] - words[2]
    out[:, 1 + COSINES] = np.divide(words[2], union, out=np.zeros(len(ia)), where=union > 0)
    out[:, 2 + COSINES] = (union > 0) & (words[2] == union)
    na, nb, shared = _counts(view_a.numbers, ia, view_b.numbers, ib)
    both = (na > 0) & (nb > 0)
    out[:, 3 + COSINES] = np.where(both & (shared == na) & (shared == nb), 1.0,
                                   np.where(both & (shared == 0), -1.0, 0.0))
    return out


def pair_dots(xa: sp.csr_matrix, ia: np.ndarray, xb: sp.csr_matrix,
              ib: np.ndarray) -> np.ndarray:
    """Inner products of rows ``xa[ia[p]]`` and ``xb[ib[p]]``. scipy sums each pair's products
    in an order that depends on whether *all* the rows given have sorted columns
    (``engine.pair_features`` keeps that order when it computes a subset)."""
    return np.asarray(xa[ia].multiply(xb[ib]).sum(axis=1)).ravel()


def _counts(xa: sp.csr_matrix, ia: np.ndarray, xb: sp.csr_matrix,
            ib: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sizes of the two binary sets of each pair and of their intersection."""
    return (np.diff(xa.indptr)[ia].astype(np.float64), np.diff(xb.indptr)[ib].astype(np.float64),
            pair_dots(xa, ia, xb, ib).astype(np.float64))


@dataclass(frozen=True)
class PairHead:
    """Logistic weights over ``features`` (a subsequence of :data:`FEATURES`: an artifact from
    before decision 0031 has the first six); the pair score is the probability."""

    weights: tuple[float, ...]
    bias: float
    features: tuple[str, ...] = FEATURES

    def __post_init__(self) -> None:
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown or len(self.weights) != len(self.features):
            raise ValueError(f"pair head features {list(self.features)} (known: {FEATURES}) "
                             f"with {len(self.weights)} weights")

    def logits(self, feats: np.ndarray) -> np.ndarray:
        """Logits of ``feats`` (``(P, len(FEATURES))``, all features; the head reads its own)."""
        cols = [FEATURES.index(f) for f in self.features]
        return (feats[:, cols].astype(np.float64) @ np.asarray(self.weights) + self.bias
                ).astype(np.float32)

    def scores(self, feats: np.ndarray) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-self.logits(feats).astype(np.float64)))).astype(np.float32)

    def to_config(self) -> dict[str, object]:
        return {"features": list(self.features), "weights": list(self.weights),
                "bias": self.bias}

    @classmethod
    def from_config(cls, config: Mapping[str, object] | None) -> PairHead | None:
        """The head an artifact records (``None``: an artifact from before decision 0024)."""
        if config is None:
            return None
        weights = tuple(float(w) for w in config["weights"])  # type: ignore[attr-defined]
        return cls(weights=weights, bias=float(config["bias"]),  # type: ignore[arg-type]
                   features=tuple(config["features"]))  # type: ignore[call-overload]


def fit(feats: np.ndarray, labels: np.ndarray,
        names: tuple[str, ...] = FEATURES) -> PairHead | None:
    """The head over the features ``names`` (columns of ``feats``, all of :data:`FEATURES`) of
    the labelled candidate pairs; ``None`` where both classes are not there."""
    if len(np.unique(labels)) < 2:
        return None
    from sklearn.linear_model import LogisticRegression  # training only: the service never fits

    cols = [FEATURES.index(f) for f in names]
    model = LogisticRegression(C=C, max_iter=2000).fit(feats[:, cols].astype(np.float64), labels)
    return PairHead(weights=tuple(float(w) for w in model.coef_[0]),
                    bias=float(model.intercept_[0]), features=names)
