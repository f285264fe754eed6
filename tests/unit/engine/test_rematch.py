"""The whole matching from arrays (``rematch``) equals the decider's pair-by-pair repair: same
matches, same published changes, step after step — with hysteresis, ties, labels and the
unnamed bar and margin."""

from __future__ import annotations

import random

import numpy as np
import pytest

from stream_align.engine import rematch
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
    results = []
    for decider, share in zip(deciders, (float("inf"), float("inf"), 0.0), strict=True):
        rematch.BULK_SHARE = share
        book = decider.book
        results.append(decider.update(book.pack(pairs), {book.node_of(0, a) for a in lefts},
                                      {book.node_of(1, b) for b in rights}))
    repaired = deciders[0]
    for decider, got in zip(deciders[1:], results[1:], strict=True):
        assert decider.matches == repaired.matches
        assert decider.matched_right == repaired.matched_right
        assert got == results[0]


@pytest.mark.parametrize("overrides", SETTINGS)
@pytest.mark.parametrize("seed", range(4))
def test_rematch_equals_the_repair(overrides: dict, seed: int,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The repair with every test in Python, the repair narrowed by arrays at any size
    (``narrow_from`` 0) and the rematch, step after step; the rematch's greedy pass reads
    its pairs 3 at a time (``GREEDY_PAIRS``, decision 0133)."""
    monkeypatch.setattr(rematch, "BULK_SHARE", rematch.BULK_SHARE)  # restored afterwards
    monkeypatch.setattr(rematch, "GREEDY_PAIRS", 3)
    rng = random.Random(seed)
    settings = EngineSettings(**overrides)
    deciders = [_decider(settings) for _ in range(3)]
    deciders[0].narrow_from = 1 << 62
    deciders[1].narrow_from = 0
    for time in range(60):
        _step(rng, deciders, time)


def test_partners_as_arrays_equal_dict_reads() -> None:
    """More nodes than matches take the sorted-array path; it answers as the dict does, with
    unmatched nodes (-1), partners without a node (-2) and nodes past every key."""
    rng = np.random.default_rng(3)
    for n_matches in (0, 1, 5, 40):
        keys = rng.choice(100, n_matches, replace=False)
        matches = {int(k): int(v) for k, v in zip(keys, rng.integers(-2, 60, n_matches),
                                                  strict=True)}
        for n_nodes in (0, 3, 200):
            nodes = rng.integers(0, 120, n_nodes).astype(np.int64)
            want = [matches.get(x, -1) for x in nodes.tolist()]
            assert rematch.partners(matches, nodes).tolist() == want
            assert rematch.SortedMap.of(matches)(nodes).tolist() == want  # any size
