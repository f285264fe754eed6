"""Kept pair-head views are the bytes a fresh ``side_view`` builds, after every kind of change."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from engine_fixtures import engine_settings, synthetic_pair, untrained_bundle

from stream_align import setops
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.scoring import side_view
from stream_align.engine.side import Side
from stream_align.engine.view_cache import ViewCache
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import TripleChange, TripleOp
from stream_align.model.bundle import ModelBundle
from stream_align.model.pair_head import PairHead, PairView

HEAD = PairHead(weights=(2.0, 1.5, 1.0, 1.0, 1.0, 0.5, 1.0, 0.5, 1.5), bias=-2.5)


def _parts(view: PairView) -> list[sp.csr_matrix]:
    return [*view.blocks, view.words, view.numbers]


def _rows(view: PairView) -> list[list[tuple[bytes, bytes]]]:
    """Per row, each part's column and value bytes in stored order (what the scores read)."""
    return [[(m.indices[m.indptr[r]:m.indptr[r + 1]].astype(np.int32).tobytes(),
              m.data[m.indptr[r]:m.indptr[r + 1]].tobytes()) for m in _parts(view)]
            for r in range(view.words.shape[0])]


def _same(a: PairView, b: PairView) -> bool:
    return _rows(a) == _rows(b) and all(
        x.shape == y.shape and x.dtype == y.dtype for x, y in zip(_parts(a), _parts(b),
                                                                  strict=True))


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return replace(untrained_bundle(synthetic_pair()), pair_head=HEAD)


def _changes(seed: int) -> list[TripleChange]:
    """The synthetic pair's stream, then renames, removed triples and deleted entities."""
    pair = synthetic_pair()
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=seed))
    rng = np.random.default_rng(seed)
    upserts = [c for c in changes if c.op is TripleOp.UPSERT_ENTITY]
    triples = [c for c in changes if c.op is TripleOp.ADD_TRIPLE]
    later = []
    for i in rng.choice(len(upserts), 12, replace=False).tolist():
        c = upserts[i]
        later.append(TripleChange.upsert_entity(
            c.graph, c.head, attributes={"name": f"renamed {i} {c.head}"}))
    for i in rng.choice(len(triples), 30, replace=False).tolist():
        c = triples[i]
        later.append(TripleChange.new(graph=c.graph, op=TripleOp.REMOVE_TRIPLE, head=c.head,
                                      relation=c.relation, tail=c.tail))
    for i in rng.choice(len(upserts), 4, replace=False).tolist():
        later.append(TripleChange.new(graph=upserts[i].graph, op=TripleOp.DELETE_ENTITY,
                                      head=upserts[i].head))
    rng.shuffle(later)
    return changes + later


def _indexed(side: Side) -> np.ndarray:
    return np.sort(side.indexed())


def test_a_view_row_does_not_depend_on_what_else_is_viewed(bundle: ModelBundle) -> None:
    """Fails if the neighbour names are summed in an order set by the group (the rows would
    then differ in the last bits between groups, and could not be kept)."""
    engine = AlignmentEngine.empty(bundle, engine_settings(view_cache_entries=0))
    engine.process(_changes(seed=3)[:400], [])
    rng = np.random.default_rng(1)
    for side in engine.sides:
        nodes = _indexed(side)
        whole = _rows(side_view(bundle, side, nodes.tolist()))
        for _ in range(5):
            pick = np.sort(rng.choice(len(nodes), len(nodes) // 3, replace=False))
            assert _rows(side_view(bundle, side, nodes[pick].tolist())) == \
                [whole[i] for i in pick.tolist()]
            one = int(rng.integers(len(nodes)))
            assert _rows(side_view(bundle, side, [int(nodes[one])])) == [whole[one]]


@pytest.mark.parametrize("batch", [15, 60])
def test_kept_views_equal_fresh_views_after_every_batch(bundle: ModelBundle, batch: int) -> None:
    """After each batch (adds, renames, removed triples, deletions) every kept row equals a
    fresh build: fails if ``find_affected`` forgot a row whose name, sample or neighbourhood
    moved. The views must move too, or the test would prove nothing."""
    engine = AlignmentEngine.empty(bundle, engine_settings(view_cache_entries=10_000))
    changes = _changes(seed=5)
    before: list[dict[int, list]] = [{}, {}]
    moved = kept = 0
    for start in range(0, len(changes), batch):
        engine.process(changes[start:start + batch], [])
        for s, side in enumerate(engine.sides):
            nodes = _indexed(side)
            if not len(nodes):
                continue
            held = side.views.held
            fresh = side_view(bundle, side, nodes.tolist())
            got = side.views.view(nodes, lambda todo, side=side: side_view(bundle, side, todo))
            assert _same(got, fresh)
            kept += held
            rows = _rows(fresh)
            moved += sum(before[s].get(n, r) != r for n, r in zip(nodes.tolist(), rows,
                                                                    strict=True))
            before[s] = dict(zip(nodes.tolist(), rows, strict=True))
    assert moved > 50 and kept > 500
    assert engine.sides[0].views.built < kept  # rows were read back, not only built


def test_the_cache_is_bounded_and_rebuilds_what_it_evicted(bundle: ModelBundle) -> None:
    engine = AlignmentEngine.empty(bundle, engine_settings(view_cache_entries=0))
    engine.process(_changes(seed=2)[:500], [])
    side = engine.sides[0]
    nodes = _indexed(side)
    fresh = side_view(bundle, side, nodes.tolist())
    cache = ViewCache(capacity=16)
    built = 0

    def build(todo: list[int]) -> PairView:
        nonlocal built
        built += len(todo)
        return side_view(bundle, side, todo)

    rng = np.random.default_rng(0)
    seen: set[int] = set()
    picks = []
    for _ in range(40):
        pick = np.sort(rng.choice(len(nodes), 6, replace=False))
        got = cache.view(nodes[pick], build)
        assert _rows(got) == [_rows(fresh)[i] for i in pick.tolist()]
        seen.update(pick.tolist())
        assert cache.held == min(16, len(seen))  # full once it overflowed: only the excess goes
        picks.append(nodes[pick])
    before = built
    cache.view(setops.union1d(picks[-1], picks[-2]), build)  # the latest rows were kept
    assert built == before
    assert 6 * 40 > built > 16  # some rows read back, evicted ones built again
    whole = cache.view(nodes, build)  # more missing than the capacity: built whole
    assert _same(whole, fresh) and cache.held == 16


@pytest.mark.parametrize("rows", [5, 8192])
def test_a_bulk_build_keeps_its_last_rows(bundle: ModelBundle, monkeypatch: pytest.MonkeyPatch,
                                          rows: int) -> None:
    """More missing than the capacity: built whole, its last ``capacity`` rows kept (and every
    row held before dropped; ``BUILD_ROWS`` of them at a time), read back later as the same
    rows without a build."""
    from stream_align.engine import view_cache
    monkeypatch.setattr(view_cache, "BUILD_ROWS", rows)
    engine = AlignmentEngine.empty(bundle, engine_settings(view_cache_entries=0))
    engine.process(_changes(seed=2)[:500], [])
    side = engine.sides[0]
    nodes = _indexed(side)
    fresh = side_view(bundle, side, nodes.tolist())
    built: list[int] = []

    def build(todo: list[int]) -> PairView:
        built.extend(todo)
        return side_view(bundle, side, todo)

    cache = ViewCache(capacity=16)
    cache.view(nodes[:3], build)  # held before the bulk build, then dropped by it
    assert _same(cache.view(nodes, build), fresh) and cache.held == 16
    assert cache.built == 3 + len(nodes)
    built.clear()
    got = cache.view(nodes[-16:], build)  # kept: read back
    assert not built and _rows(got) == _rows(fresh)[-16:]
    assert cache.view(nodes[:3], build) is not None and built == nodes[:3].tolist()
    assert cache.held == 16  # the least recently used kept row made room


def test_a_bulk_keep_in_parts_leaves_the_pool_one_keep_leaves(
        bundle: ModelBundle, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last rows of a bulk build kept ``BUILD_ROWS`` at a time leave the pool the size one
    keep of them leaves (its room is made once for all: a pool grown part by part stays
    larger, it does not shrink)."""
    from stream_align.engine import view_cache
    engine = AlignmentEngine.empty(bundle, engine_settings(view_cache_entries=0))
    engine.process(_changes(seed=2)[:500], [])
    side = engine.sides[0]
    nodes = _indexed(side)
    sizes = []
    for rows in (1 << 20, 3):
        monkeypatch.setattr(view_cache, "BUILD_ROWS", rows)
        cache = ViewCache(capacity=40)
        cache.view(nodes[:3], lambda todo: side_view(bundle, side, todo))
        cache.view(nodes, lambda todo: side_view(bundle, side, todo))
        sizes.append(cache.nbytes())
    assert len(nodes) > 40 and sizes[0] == sizes[1]


@pytest.mark.parametrize("rows", [1, 7, 20])
def test_a_view_not_kept_is_built_in_parts_with_the_same_rows(
        bundle: ModelBundle, monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """More missing than the capacity (a bulk refresh's group): built ``BUILD_ROWS`` entities
    at a time and stacked, with the rows, shapes and dtypes of one whole build."""
    from stream_align.engine import view_cache
    monkeypatch.setattr(view_cache, "BUILD_ROWS", rows)
    engine = AlignmentEngine.empty(bundle, engine_settings(view_cache_entries=0))
    engine.process(_changes(seed=4)[:500], [])
    for side in engine.sides:
        nodes = _indexed(side)
        calls: list[int] = []

        def build(todo: list[int], side: Side = side, calls: list[int] = calls) -> PairView:
            calls.append(len(todo))
            return side_view(bundle, side, todo)

        got = ViewCache(capacity=2).view(nodes, build)
        assert _same(got, side_view(bundle, side, nodes.tolist()))
        assert max(calls) <= rows and sum(calls) == len(nodes) > rows * 2
