"""Neighbourhood matches: corresponding relations from anchors, support, unique mutual best,
rounds, hubs, and the batch aligner's rematch of unnamed pairs."""

from __future__ import annotations

import numpy as np

from stream_align.engine.neighbourhood import (
    Fanout,
    corresponding_relations,
    edges,
    neighbourhood_matches,
    rematch_unnamed,
)
from stream_align.graph import Graph

# A's relation 0 is B's relation 1 and the other way round: learnt from the anchored triples.
ANCHORED_A = [(0, 0, 1), (1, 1, 2), (2, 0, 3)]
ANCHORED_B = [(0, 1, 1), (1, 0, 2), (2, 1, 3)]
ANCHORS = np.array([[0, 0], [1, 1], [2, 2], [3, 3]])


def _graph(label: str, size: int, triples: list[tuple[int, int, int]], named: int = 4) -> Graph:
    return Graph(label=label, keys=[f"{label}{i}" for i in range(size)],
                 names=[f"n{i}" if i < named else "" for i in range(size)],
                 types=[""] * size, attributes=[{} for _ in range(size)],
                 relations=["r0", "r1"], triples=np.array(triples, dtype=np.int64))


def test_relations_correspond_by_their_anchored_images() -> None:
    a, b = _graph("a", 4, ANCHORED_A), _graph("b", 4, ANCHORED_B)
    got = corresponding_relations(edges(a), edges(b), dict(ANCHORS.tolist()))
    assert got == {(0, 1), (1, 0)}


def test_an_unnamed_entity_meets_the_neighbour_joined_by_the_corresponding_relation() -> None:
    # a4 —r0→ a2; b4 —r1→ b2 (corresponds, same direction), b5 —r0→ b2 (does not correspond),
    # b2 —r1→ b6 (wrong direction)
    a = _graph("a", 5, [*ANCHORED_A, (4, 0, 2)])
    b = _graph("b", 7, [*ANCHORED_B, (4, 1, 2), (5, 0, 2), (2, 1, 6)])
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1).tolist() == [[4, 4]]


def test_a_tie_matches_nothing() -> None:
    a = _graph("a", 5, [*ANCHORED_A, (4, 0, 2)])
    b = _graph("b", 6, [*ANCHORED_B, (4, 1, 2), (5, 1, 2)])
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1).tolist() == []


def test_a_tie_goes_to_the_one_tied_pair_the_model_would_match() -> None:
    a = _graph("a", 5, [*ANCHORED_A, (4, 0, 2)])
    b = _graph("b", 6, [*ANCHORED_B, (4, 1, 2), (5, 1, 2)])
    one = {(4, 5)}
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1,
                                 prefer=lambda x, y: (x, y) in one).tolist() == [[4, 5]]
    both = {(4, 4), (4, 5)}  # still a tie
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1,
                                 prefer=lambda x, y: (x, y) in both).tolist() == []


def test_named_entities_are_left_to_the_model() -> None:
    a = _graph("a", 5, [*ANCHORED_A, (4, 0, 2)], named=5)  # a4 has a name
    b = _graph("b", 5, [*ANCHORED_B, (4, 1, 2)])
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1).tolist() == []


def test_a_second_round_anchors_on_the_first_rounds_matches() -> None:
    # a5 —r1→ a4 and b5 —r0→ b4: evidence only once (a4, b4) is matched
    a = _graph("a", 6, [*ANCHORED_A, (4, 0, 2), (5, 1, 4)])
    b = _graph("b", 6, [*ANCHORED_B, (4, 1, 2), (5, 0, 4)])
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1).tolist() == [[4, 4]]
    assert neighbourhood_matches(a, b, ANCHORS, rounds=2).tolist() == [[4, 4], [5, 5]]


def test_a_hub_anchor_gives_no_evidence() -> None:
    a = _graph("a", 5, [*ANCHORED_A, (4, 0, 2)])
    b = _graph("b", 5, [*ANCHORED_B, (4, 1, 2)])
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1, fanout=Fanout(2, 0)).tolist() == []


def test_a_hub_anchor_supports_through_its_small_relation_groups() -> None:
    # a2 and b2 are hubs (degree 3 > 2); a4 —r0→ a2 and b4 —r1→ b2 are each alone in their
    # group (r0 into a2, r1 into b2): evidence within a group bound of 1, none within 0
    a = _graph("a", 5, [*ANCHORED_A, (4, 0, 2)])
    b = _graph("b", 5, [*ANCHORED_B, (4, 1, 2)])
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1, fanout=Fanout(2, 1)).tolist() == [
        [4, 4]]
    # a second member of b2's group (b5 —r1→ b2, unnamed): over the bound of 1, a tie within 2
    b = _graph("b", 6, [*ANCHORED_B, (4, 1, 2), (5, 1, 2)])
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1, fanout=Fanout(2, 1)).tolist() == []
    assert neighbourhood_matches(a, b, ANCHORS, rounds=1, fanout=Fanout(2, 2)).tolist() == []


def test_rematch_replaces_unnamed_pairs_and_keeps_seeds_first() -> None:
    a = _graph("a", 6, [*ANCHORED_A, (4, 0, 2)])
    b = _graph("b", 6, [*ANCHORED_B, (4, 1, 2)])
    # the model picked (4, 5) by score (unnamed: dropped), and (3, 0) against the seed (0, 0)
    picked = np.array([[1, 1], [2, 2], [4, 5], [3, 0]])
    seeds = np.array([[0, 0], [3, 3]])
    got = rematch_unnamed(a, b, picked, seeds, rounds=1)
    assert sorted(got.tolist()) == [[1, 1], [2, 2], [3, 0], [4, 4]]
    assert rematch_unnamed(a, b, picked, seeds, rounds=0).tolist() == [[1, 1], [2, 2], [3, 0]]
