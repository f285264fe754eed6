"""DBP15K and SRPRS through the JAPE loader: README counts, names, name-blind loads, seeds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stream_align.eval.datasets.jape_layout import load_jape
from stream_align.graph import GraphPair

# (entities, triples, relations) per graph, train + valid, test: datasets/README.md.
COUNTS = {
    "dbp15k": ((19388, 70414, 1701), (19572, 95142, 1323), 4500, 10500),
    "srprs": ((15000, 38421, 253), (15000, 40159, 144), 4500, 10500),
}


@pytest.mark.parametrize("name", COUNTS)
def test_counts_match_the_readme(name: str, request: pytest.FixtureRequest) -> None:
    pair: GraphPair = request.getfixturevalue(name)
    size_a, size_b, supervised, test = COUNTS[name]
    for graph, size in ((pair.a, size_a), (pair.b, size_b)):
        assert (graph.num_entities, len(graph.triples), len(graph.relations)) == size
    assert len(pair.train) + len(pair.valid) == supervised
    assert len(pair.test) == test


def test_splits_are_disjoint(srprs: GraphPair) -> None:
    """SRPRS test is ``ref - sup``: no training pair may reappear in test."""
    train = {tuple(p) for p in np.concatenate([srprs.train, srprs.valid]).tolist()}
    assert not train & {tuple(p) for p in srprs.test.tolist()}


def test_names_follow_their_entities(dbp15k: GraphPair, srprs: GraphPair) -> None:
    """After the permutation, names still sit on the right entities.

    DBP15K A names are machine translations: most, not all, equal B's URI names. SRPRS B names
    equal A's for every gold pair (the README's name leak).
    """
    def equal_rate(pair: GraphPair) -> float:
        return float(np.mean([pair.a.names[i].lower() == pair.b.names[j].lower()
                              for i, j in pair.test]))

    assert 0.5 < equal_rate(dbp15k) < 0.7
    assert equal_rate(srprs) == 1.0


def test_hide_names_empties_every_name(datasets_dir: Path) -> None:
    pair = load_jape(datasets_dir / "srprs" / "dbp_wd_15k_V1", hide_names=True)
    assert not any(pair.a.names) and not any(pair.b.names)


def test_seed_changes_the_order_only(datasets_dir: Path, srprs: GraphPair) -> None:
    other = load_jape(datasets_dir / "srprs" / "dbp_wd_15k_V1", seed=1)
    assert not np.array_equal(other.test, srprs.test)
    names = {(srprs.a.names[i], srprs.b.names[j]) for i, j in srprs.test}
    assert names == {(other.a.names[i], other.b.names[j]) for i, j in other.test}
