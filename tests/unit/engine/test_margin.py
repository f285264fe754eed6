"""The unnamed margin: runner-ups from batch arrays and from the engine's book, and the decider's
repair when only a runner-up moved."""

from __future__ import annotations

import numpy as np

from stream_align.engine.decisions import Decider, PairBook
from stream_align.engine.margin import RunnerUps, runner_up
from stream_align.engine.settings import EngineSettings


def test_runner_up_is_the_best_other_pair_of_either_entity() -> None:
    pairs = np.array([[0, 0], [0, 1], [1, 0], [2, 2]])
    scores = np.array([0.9, 0.7, 0.8, 0.6], dtype=np.float32)
    got = runner_up(pairs, scores)
    assert np.allclose(got[:3], [0.8, 0.9, 0.9])  # (0,0) competes with (1,0); the others (0,0)
    assert got[3] == -np.inf  # no other pair: nothing to be ahead of


def test_book_runner_ups_equal_the_batch_ones() -> None:
    rng = np.random.default_rng(0)
    pairs = np.unique(rng.integers(0, 12, size=(60, 2)), axis=0)
    scores = rng.random(len(pairs)).astype(np.float32)
    book = PairBook()
    for (a, b), s in zip(pairs.tolist(), scores.tolist(), strict=True):
        book.set(f"a{a}", f"b{b}", s)
    ups = RunnerUps(book)
    got = [ups.of(book.node_of(0, f"a{a}"), book.node_of(1, f"b{b}")) for a, b in pairs.tolist()]
    assert np.allclose(got, runner_up(pairs, scores))


def _decider(margin: float | None) -> Decider:
    settings = EngineSettings(match_threshold=0.5, keep_threshold=0.5, unnamed_margin=margin)
    book = PairBook()
    return Decider(settings, book, named=lambda u, v: book.vocabularies[1].keys[v] != "b1")


def test_margin_rejects_an_ambiguous_unnamed_pair_until_its_rival_falls() -> None:
    decider = _decider(0.1)
    for pair, score in ((("a1", "b1"), 0.9), (("a1", "b2"), 0.85), (("a2", "b3"), 0.8)):
        decider.book.set(*pair, score)
    decider.update(decider.book.pack(decider.book.scores.keys()))
    # (a1, b1) is unnamed and only 0.05 ahead of (a1, b2); named pairs need no margin
    assert decider.matches == {"a1": "b2", "a2": "b3"}
    decider.book.set("a1", "b2", 0.6)  # only the rival changed: (a1, b1) is reconsidered
    changes = decider.update(decider.book.pack([("a1", "b2")]))
    assert decider.matches == {"a1": "b1", "a2": "b3"}
    assert [(c.left, c.right, c.retract) for c in changes] == [("a1", "b2", True),
                                                              ("a1", "b1", False)]


def test_no_margin_keeps_the_plain_rule() -> None:
    decider = _decider(None)
    for pair, score in ((("a1", "b1"), 0.9), (("a1", "b2"), 0.85)):
        decider.book.set(*pair, score)
    decider.update(decider.book.pack(decider.book.scores.keys()))
    assert decider.matches == {"a1": "b1"}
