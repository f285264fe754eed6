"""Invariants every loaded benchmark must satisfy, layout detection, and dataset_stats."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from stream_align.errors import StreamAlignError
from stream_align.eval.datasets.errors import DatasetError
from stream_align.eval.datasets.loader import dataset_stats, load_dataset
from stream_align.graph import GraphPair

DATASETS = ["dbp15k", "srprs", "contea", "itunes_amazon", "dblp_acm", "amazon_google"]


@pytest.fixture(params=DATASETS)
def pair(request: pytest.FixtureRequest) -> GraphPair:
    if request.param in ("dbp15k", "srprs", "contea"):
        return request.getfixturevalue(request.param)
    return request.getfixturevalue("er")[request.param]


def _all_pairs(pair: GraphPair) -> list[np.ndarray]:
    snaps = [p for s in pair.snapshots for p in (s.test, s.new_test)]
    return [pair.train, pair.valid, pair.test, *pair.non_matches.values(), *snaps]


def test_indices_are_in_range(pair: GraphPair) -> None:
    for graph, extra in ((pair.a, [s.triples_a for s in pair.snapshots]),
                         (pair.b, [s.triples_b for s in pair.snapshots])):
        n = graph.num_entities
        assert len(graph.names) == len(graph.types) == len(graph.attributes) == n
        assert len(set(graph.keys)) == n
        for triples in [graph.triples, *extra]:
            assert triples.dtype == np.int64 and triples.shape[1] == 3
            assert triples[:, [0, 2]].min() >= 0 and triples[:, [0, 2]].max() < n
            assert triples[:, 1].max() < len(graph.relations)
    for pairs in _all_pairs(pair):
        assert pairs.dtype == np.int64 and pairs.shape[1] == 2
        assert pairs[:, 0].max() < pair.a.num_entities and pairs[:, 1].max() < pair.b.num_entities


def test_id_leak_is_gone(pair: GraphPair) -> None:
    """Neither equal indices, equal key suffixes nor a constant offset link the gold pairs."""
    test = pair.test
    assert np.mean(test[:, 0] == test[:, 1]) < 0.05
    suffix = [pair.a.keys[i][2:] == pair.b.keys[j][2:] for i, j in test]
    assert np.mean(suffix) < 0.05
    assert len(np.unique(test[:, 1] - test[:, 0])) > len(test) // 2


def test_stats_are_json_and_match_the_pair(pair: GraphPair) -> None:
    stats = json.loads(json.dumps(dataset_stats(pair)))
    assert stats["a"]["entities"] == pair.a.num_entities
    assert stats["b"]["triples"] == len(pair.b.triples)
    assert stats["pairs"] == {"train": len(pair.train), "valid": len(pair.valid),
                              "test": len(pair.test)}
    assert len(stats["snapshots"]) == len(pair.snapshots)


def test_contea_stats_show_the_growth(contea: GraphPair) -> None:
    stats = dataset_stats(contea)
    assert (stats["a"]["entities_in_triples"], stats["b"]["entities_in_triples"]) == (19388, 19572)
    growth = [(s["entities_a"], s["entities_b"]) for s in stats["snapshots"]]
    assert growth == sorted(growth) and growth[-1] == (84381, 132425)
    assert [s["test"] for s in stats["snapshots"]][-1] == 24678


@pytest.mark.parametrize(("files", "target"), [
    ({}, "."),
    ({}, "missing"),
    ({"triples_1": "0\t0\t1\n"}, "triples_1"),
    ({"train.csv": "ltable_id,rtable_id,label\n", "base/train_links": "1\t2\n"}, "."),
], ids=["empty-dir", "missing", "a-file", "partial-files"])
def test_unknown_layout_raises(tmp_path: Path, files: dict[str, str], target: str) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(DatasetError) as info:
        load_dataset(tmp_path / target)
    assert isinstance(info.value, StreamAlignError)
    for expected in ("ent_ids_1", "base/triples_1", "rel_dict", "tableA.csv"):
        assert expected in str(info.value)
