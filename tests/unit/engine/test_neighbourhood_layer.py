"""``Layer.rematch``: a round's matches follow its support table where rows or columns change."""

from stream_align.engine.neighbourhood_layer import Layer


def test_rematch_matches_mutual_bests_and_reports_the_lefts_that_moved() -> None:
    layer = Layer()
    changed_b = layer.support.set_row(1, {10: 3, 11: 1}) | layer.support.set_row(2, {10: 1})
    assert layer.rematch({1, 2}, changed_b) == {1}
    assert layer.matches == {1: 10} and layer.matched_b == {10: 1}

    # 2 now holds 10 more strongly: 1 loses 10 and stays unmatched, since its row's best (10)
    # is no longer its column's best; 11 is not 1's best, so it does not stand either.
    changed_b = layer.support.set_row(2, {10: 5})
    moved = layer.rematch({2}, changed_b)
    assert moved == {1, 2}
    assert layer.matches == {2: 10}
    assert layer.matched_b == {b: a for a, b in layer.matches.items()}


def test_rematch_of_unchanged_entities_moves_nothing() -> None:
    layer = Layer()
    layer.rematch({1}, layer.support.set_row(1, {10: 2}))
    assert layer.rematch({1}, {10}) == set()
    assert layer.matches == {1: 10}
