"""The pair head's evidence on hand-made neighbour tables, its fit and its config round trip."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from stream_align.model.pair_head import (
    FEATURES,
    PairHead,
    features,
    fit,
    name_sets,
    view_from_table,
)

NONE = 9  # anchor ids 0..8 exist; 9 marks "no anchor"
TEXTS = ["x", "y", "z", "w"]


def _table(anchors: list[int], nbr: list[list[int]], rel: list[list[int]]
           ) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows with names ``n<i>`` as one-hot n-gram stand-ins, a padded neighbour table."""
    n, k = len(anchors), max(len(row) for row in nbr)
    names = sp.eye(n, 8, format="csr", dtype=np.float32)
    table = np.full((n, k), n, dtype=np.int64)
    rels = np.zeros((n, k), dtype=np.int64)
    mask = np.zeros((n, k), dtype=bool)
    for i, (row, rrow) in enumerate(zip(nbr, rel, strict=True)):
        table[i, :len(row)], rels[i, :len(row)], mask[i, :len(row)] = row, rrow, True
    return names, np.asarray(anchors), table, rels, mask


def test_anchor_features_are_set_cosines_and_paths_back_do_not_count() -> None:
    # A: x=0 reaches anchors 0 (over relation 1) and 1 (relation 2); anchor 0's own sample
    # leads back to x, which carries anchor 5 — a path back, never evidence.
    a = _table([5, 0, 1, NONE], [[1, 2], [0], [3], [2]], [[1, 2], [1], [1], [1]])
    # B: y=0 reaches anchor 0 over relation 1 and an unanchored node over relation 2.
    b = _table([5, 0, NONE], [[1, 2], [0], [1]], [[1, 2], [1], [1]])
    va = view_from_table(*a, rows=np.array([0]), n_anchors=NONE,
                         texts=TEXTS)
    vb = view_from_table(*b, rows=np.array([0]), n_anchors=NONE,
                         texts=TEXTS)
    f = features(va, np.array([0]), vb, np.array([0]), np.array([0.25]))[0]
    got = dict(zip(FEATURES, f.tolist(), strict=True))
    assert got["score"] == 0.25
    assert got["neighbour_anchors"] == pytest.approx(1 / np.sqrt(2))  # {0, 1} vs {0}
    assert got["relation_anchors"] == pytest.approx(1 / np.sqrt(2))  # {(1,0), (2,1)} vs {(1,0)}
    assert got["two_hop_anchors"] == 0.0  # both only lead back to x (anchor 5)
    assert got["names"] == 1.0  # row 0's one-hot in both tables


def test_relation_must_match_for_relation_anchors() -> None:
    a = _table([NONE, 0], [[1], [0]], [[1], [1]])
    b = _table([NONE, 0], [[1], [0]], [[3], [3]])
    f = features(view_from_table(*a, rows=np.array([0]), n_anchors=NONE,
                         texts=TEXTS), np.array([0]),
                 view_from_table(*b, rows=np.array([0]), n_anchors=NONE,
                         texts=TEXTS), np.array([0]),
                 np.zeros(1))[0]
    got = dict(zip(FEATURES, f.tolist(), strict=True))
    assert got["neighbour_anchors"] == pytest.approx(1.0)
    assert got["relation_anchors"] == 0.0


def test_fit_ranks_by_the_evidence_and_needs_both_classes() -> None:
    rng = np.random.default_rng(0)
    labels = rng.random(400) < 0.2
    feats = rng.random((400, len(FEATURES))).astype(np.float32) * 0.5
    feats[labels, 3] += 0.6  # positives share their neighbours' anchors
    head = fit(feats, labels)
    assert head is not None
    scores = head.scores(feats)
    assert ((scores > 0) & (scores < 1)).all()
    assert scores[labels].min() > scores[~labels].max()
    assert fit(feats, np.zeros(400, dtype=bool)) is None


def _name_features(left: str, right: str) -> dict[str, float]:
    words_a, numbers_a = name_sets([left])
    words_b, numbers_b = name_sets([right])
    a = type("V", (), {"blocks": [], "words": words_a, "numbers": numbers_a})
    b = type("V", (), {"blocks": [], "words": words_b, "numbers": numbers_b})
    f = features(a, np.array([0]), b, np.array([0]), np.zeros(1))[0]  # type: ignore[arg-type]
    return {k: v for k, v in zip(FEATURES, f.tolist(), strict=True) if k.startswith("name_")}


def test_name_word_features_see_what_n_gram_cosines_blur() -> None:
    """Numbers that disagree (a season, a model, a Roman numeral) are told apart; the same
    words in another case and order are an exact match; ``xi`` is 11 (decision 0036)."""
    assert _name_features("sony xperia E", "Sony Xperia e") == {
        "name_words": 1.0, "name_exact": 1.0, "name_numbers": 0.0}
    assert _name_features("Shenzhou VII", "Shenzhou 7")["name_numbers"] == 1.0
    assert _name_features("Fringe season 3", "Fringe (season 2)") == {
        "name_words": 0.5, "name_exact": 0.0, "name_numbers": -1.0}
    assert _name_features("Xperia Z3, 2014", "Xperia Z3")["name_numbers"] == 0.0  # overlap
    assert _name_features("Xi Jinping", "Jinping xi") == {
        "name_words": 1.0, "name_exact": 1.0, "name_numbers": 1.0}
    assert _name_features("Pope Pius XI", "Pius XII")["name_numbers"] == -1.0
    assert _name_features("", "") == {"name_words": 0.0, "name_exact": 0.0,
                                      "name_numbers": 0.0}


def test_config_round_trip_and_artifacts_with_fewer_features() -> None:
    head = PairHead(weights=(1.0, 2.0, 0.0, 3.0, 0.5, 0.25, 1.0, 2.0, 3.0), bias=-1.5)
    assert PairHead.from_config(head.to_config()) == head
    assert PairHead.from_config(None) is None
    with pytest.raises(ValueError, match="features"):
        PairHead.from_config({**head.to_config(), "features": ["score"] * 9 + ["bogus"]})
    # Before decision 0031 a head had six features: it reads those columns only.
    old = PairHead.from_config({"features": list(FEATURES[:6]), "weights": [1.0] * 6,
                                "bias": 0.0})
    assert old is not None
    feats = np.ones((1, len(FEATURES)), dtype=np.float32)
    assert old.logits(feats)[0] == 6.0


def test_decision_bar_is_the_best_f1_threshold_of_the_stable_matching() -> None:
    """Gold (0,0), (1,1), (2,2); candidates compete one to one. Highest first: (0,0) right,
    (1,5) wrong (takes source 1), (2,2) right, (3,3) a non-gold source (not counted), then
    (1,1) is blocked. F1 after each counted match: 2/4, 2/5, 4/6 → the bar is (2,2)'s logit."""
    from stream_align.model.pair_fit import decision_bar

    pairs = np.array([[0, 0], [1, 5], [2, 2], [3, 3], [1, 1], [0, 2]])
    logits = np.array([3.0, 2.0, 1.0, 0.5, 0.0, -1.0])
    labels = np.array([True, False, True, False, True, False])
    gold = np.array([[0, 0], [1, 1], [2, 2]])
    assert decision_bar(pairs, logits, labels, gold) == 1.0
    assert decision_bar(pairs[:0], logits[:0], labels[:0], gold) == 0.0
