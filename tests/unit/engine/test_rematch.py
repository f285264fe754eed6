"""The whole matching from arrays (``rematch``) equals the decider's pair-by-pair repair: same
matches, same published changes, step after step — with hysteresis, ties, labels and the
unnamed bar and margin."""

from __future__ import annotations

import random

import pytest

from stream_align.engine import decisions, rematch
from stream_align.engine.decisions import Decider, PairBook
from stream_align.engine.settings import EngineSettings
from stream_align.events.contracts import LabelValue

SETTINGS = [
    {"match_threshold": 0.5, "keep_threshold": 0.3},
    {"match_threshold": 0.5, "keep_threshold": 0.5, "unnamed_threshold": 0.6,
     "unnamed_margin": 0.05},
    {"match_threshold": 0.4, "keep_threshold": 0.2, "unnamed_margin": 0.1,
     "min_score_delta": 0.0},
    {"match_threshold": 0.5, "keep_threshold": 0.3, "neighbourhood_rounds": 1},
]


def _decider(settings: EngineSettings) -> Decider:
    """A decider over its own book, unnamed where a left key ends in 3 or a right one in 7."""
    book = PairBook()
    left, right = book.vocabularies
    return Decider(settings, book, lambda u, v: not left.keys[u].endswith("3")
                   and not right.keys[v].endswith("7"))


def _step(rng: random.Random, deciders: list[Decider], time: int) -> None:
    """The same random change to every decider's book and labels, then each one's update."""
    pairs: set[tuple[str, str]] = set()
    lefts: set[str] = set()
    rights: set[str] = set()
    for _ in range(rng.randrange(1, 40)):
        pair = f"a{rng.randrange(15):02d}", f"b{rng.randrange(15):02d}"
        score = round(rng.random(), 1)  # coarse: many ties
        for decider in deciders:
            decider.book.drop(*pair) if score < 0.1 else decider.book.set(*pair, score)
        pairs.add(pair)
    if rng.random() < 0.3:
        pair = f"a{rng.randrange(15):02d}", f"b{rng.randrange(15):02d}"
        value = rng.choice([LabelValue.MATCH, LabelValue.NON_MATCH])
        for decider in deciders:
            if value is LabelValue.MATCH and pair not in decider.book.scores:
                decider.book.set(*pair, 0.2)
            changed = decider.label(*pair, value, time)
        lefts |= {a for a, _ in changed}
        rights |= {b for _, b in changed}
    repaired, rebuilt = deciders
    results = []
    for decider, share in ((repaired, float("inf")), (rebuilt, 0.0)):
        rematch.BULK_SHARE = share
        book = decider.book
        results.append(decider.update(book.pack(pairs), {book.node_of(0, a) for a in lefts},
                                      {book.node_of(1, b) for b in rights}))
    want, got = results
    assert rebuilt.matches == repaired.matches
    assert rebuilt.matched_right == repaired.matched_right
    assert got == want


@pytest.mark.parametrize("overrides", SETTINGS)
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("narrowed", [False, True])
def test_rematch_equals_the_repair(overrides: dict, seed: int, narrowed: bool,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``narrowed``: the repair's queue narrowed by arrays (``_contenders``) at any size."""
    monkeypatch.setattr(rematch, "BULK_SHARE", rematch.BULK_SHARE)  # restored afterwards
    if narrowed:
        monkeypatch.setattr(decisions, "_FILTER_FROM", 0)
    rng = random.Random(seed)
    settings = EngineSettings(**overrides)
    deciders = [_decider(settings) for _ in range(2)]
    for time in range(60):
        _step(rng, deciders, time)
