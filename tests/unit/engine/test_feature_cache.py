"""The feature cache's rows are the bits ``model.features.level0`` gives, held or hashed again."""

from __future__ import annotations

import numpy as np
import pytest
from engine_fixtures import synthetic_pair, untrained_bundle

from stream_align.engine.feature_cache import FeatureCache
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.graph import Graph
from stream_align.model.features import Level0, level0
from stream_align.model.pair_head import NameKeys, name_keys, name_sets


def _mirror(graph: Graph) -> MutableGraph:
    """The entities of ``graph``, every third with attributes (text, a number, a date, -0)."""
    mirror = MutableGraph(graph.label, graph.label)
    for i, key in enumerate(graph.keys):
        attrs = dict(graph.attributes[i]) | ({"name": graph.names[i]} if graph.names[i] else {})
        if i % 3 == 0:
            attrs |= {"height": f"{i / 7:.3f}", "born": f"19{i % 90:02d}-0{i % 9 + 1}-12",
                      "note": f"entity number {i}", "zero": "-0"}
        mirror.upsert(key, graph.types[i], attrs)
    return mirror


def _whole(mirror: MutableGraph, frozen: object) -> Level0:
    n = len(mirror.keys)
    graph, _ = mirror.local_graph(np.arange(n), np.zeros((0, 3), dtype=np.int64))
    return level0(graph, frozen.features, frozen.name_idf, frozen.attr_idf)


def _same(got: Level0, want: Level0) -> None:
    for a, b in ((got.names, want.names), (got.attrs, want.attrs)):
        assert a.shape == b.shape
        assert np.array_equal(a.indptr, b.indptr)
        assert np.array_equal(a.indices, b.indices)
        assert np.array_equal(a.data.view(np.int32), b.data.view(np.int32))
    assert np.array_equal(got.numeric.view(np.int32), want.numeric.view(np.int32))


@pytest.mark.parametrize("capacity", [1, 7, 1000])
def test_rows_equal_level0_of_the_whole_graph(capacity: int) -> None:
    pair = synthetic_pair(n=60, seed=3)
    frozen = untrained_bundle(pair).frozen
    mirror = _mirror(pair.a)
    whole = _whole(mirror, frozen)
    assert whole.attrs.nnz and whole.numeric.any()
    cache = FeatureCache(mirror, frozen, capacity)
    rng = np.random.default_rng(0)
    for _ in range(6):
        glob = rng.choice(pair.a.num_entities, 15, replace=False)
        read = int(rng.integers(1, 16))
        got = cache.level0(glob, read)
        _same(Level0(names=got.names[:read], attrs=got.attrs[:read],
                     numeric=got.numeric[:read]),
              Level0(names=whole.names[glob[:read]], attrs=whole.attrs[glob[:read]],
                     numeric=whole.numeric[glob[:read]]))
        assert got.names.shape[0] == 15 and got.names[read:].nnz == 0
        assert got.attrs[read:].nnz == 0 and not got.numeric[read:].any()
        names = cache.names(glob)
        assert np.array_equal(names.indptr, whole.names[glob].indptr)
        assert np.array_equal(names.indices, whole.names[glob].indices)
        assert np.array_equal(names.data.view(np.int32), whole.names[glob].data.view(np.int32))
        assert len(cache) <= capacity


def test_a_changed_entity_is_hashed_again() -> None:
    pair = synthetic_pair(n=30, seed=4)
    frozen = untrained_bundle(pair).frozen
    mirror = _mirror(pair.a)
    cache = FeatureCache(mirror, frozen, 1000)
    glob = np.arange(10)
    before = cache.names(glob)
    assert cache.hashed == 10
    assert cache.names(glob).nnz == before.nnz and cache.hashed == 10  # held
    mirror.upsert(pair.a.keys[4], pair.a.types[4], {"name": "a wholly new name 42"})
    after = cache.names(glob)
    assert cache.hashed == 11
    local, _ = mirror.local_graph(np.array([4]), np.zeros((0, 3), dtype=np.int64))
    want = level0(local, frozen.features, frozen.name_idf, frozen.attr_idf).names
    assert np.array_equal(after[4].data.view(np.int32), want.data.view(np.int32))
    assert np.array_equal(after[4].indices, want.indices)
    assert np.array_equal(after[:4].data, before[:4].data)


def test_name_keys_are_the_pair_heads() -> None:
    pair = synthetic_pair(n=40, seed=5)
    frozen = untrained_bundle(pair).frozen
    mirror = _mirror(pair.a)
    mirror.upsert(pair.a.keys[2], pair.a.types[2], {"name": "Apollo XII 13 (1970)"})
    cache = FeatureCache(mirror, frozen, 9)
    glob = np.array([5, 2, 30, 7, 2 + 1, 11, 39, 0, 21, 14, 8])
    got = cache.name_keys(glob)
    want = NameKeys.of([name_keys(mirror.names[g]) for g in glob.tolist()])
    assert got.num_counts[1] == 3  # 12, 13 and 1970
    for field in ("word_counts", "word_keys", "num_counts", "num_keys"):
        assert np.array_equal(getattr(got, field), getattr(want, field)), field
    for a, b in zip(name_sets(got), name_sets([mirror.names[g] for g in glob.tolist()]),
                    strict=True):
        assert (a != b).nnz == 0
