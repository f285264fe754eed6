"""Kept pair-head features give the bits a computation of the whole block gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from engine_fixtures import engine_settings, synthetic_pair, untrained_bundle
from test_view_cache import HEAD, _changes

from stream_align.engine import pair_features
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.pair_features import (
    OWN,
    TWO_HOP,
    FeatureCache,
    cached_features,
    unsorted_parts,
    unsorted_rows,
)
from stream_align.model.bundle import ModelBundle
from stream_align.model.pair_head import PairView, features

ROWS, WIDTH = 12, 400


def _block(rng: np.random.Generator, unsorted: set[int], fill: int) -> sp.csr_matrix:
    """``ROWS`` rows of ``fill`` random columns each (a few shared by every row, so pairs
    have many products to sum); rows in ``unsorted`` store their columns reversed."""
    indptr, indices, data = [0], [], []
    for r in range(ROWS):
        cols = np.union1d(np.arange(fill // 2), rng.choice(WIDTH, fill, replace=False))
        if r in unsorted:
            cols = cols[::-1]
        indices.extend(cols.tolist())
        data.extend(rng.random(len(cols), dtype=np.float32).tolist())
        indptr.append(len(indices))
    return sp.csr_matrix((np.array(data, dtype=np.float32), np.array(indices, dtype=np.int32),
                          np.array(indptr)), shape=(ROWS, WIDTH))


def _view(rng: np.random.Generator, unsorted: set[int]) -> PairView:
    """Part 1 (the neighbour names, a sparse product's unsorted columns) has ``unsorted``
    rows; the other parts are sorted."""
    parts = [_block(rng, unsorted if p == 1 else set(), 40 if p < 2 else 6) for p in range(7)]
    return PairView(blocks=parts[:5], words=parts[5], numbers=parts[6])


def test_unsorted_rows_are_scipys_canonical_check() -> None:
    rng = np.random.default_rng(0)
    m = _block(rng, {1, 4, 11}, 8)
    m = sp.vstack([m, sp.csr_matrix((2, WIDTH), dtype=np.float32), m], format="csr")
    got = unsorted_rows(m)
    want = [not m[r].has_canonical_format for r in range(m.shape[0])]
    assert got.tolist() == want and sum(want) == 6


def _bits(x: np.ndarray) -> bytes:
    return np.ascontiguousarray(x).tobytes()


def test_a_subset_alone_can_take_the_other_path() -> None:
    """The hazard the cache guards against: scipy sums a pair of sorted rows in another order
    when an unsorted row is in the same call. Fails if that stops being so (the cache's path
    mask would then be needless, and this file's other tests weaker)."""
    rng = np.random.default_rng(1)
    va, vb = _view(rng, {0, 1, 2}), _view(rng, set())
    ia, ib = np.arange(3, ROWS), np.arange(3, ROWS)  # sorted rows only
    alone = features(va, ia, vb, ib, np.zeros(len(ia), dtype=np.float32))
    both = features(va, np.append(ia, 0), vb, np.append(ib, 0),
                    np.zeros(len(ia) + 1, dtype=np.float32))[:-1]
    assert _bits(alone[:, 2]) != _bits(both[:, 2])


@pytest.mark.parametrize(("seed", "part"), [(2, 4096), (3, 4096), (4, 4096), (2, 1), (3, 4),
                                            (4, 7)])
def test_cached_features_are_the_whole_blocks_bits(seed: int, part: int,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of random pairs, with and without unsorted rows, rows changed (and their
    versions bumped) between blocks: every block's features equal ``features`` of the whole
    block, bit for bit, and many pairs are read back — also when the pairs computed anew
    go ``part`` at a time (``PART_PAIRS``: cuts of sorted rows alone in a block with unsorted
    ones must still take the general path)."""
    monkeypatch.setattr(pair_features, "PART_PAIRS", part)
    rng = np.random.default_rng(seed)
    cache = FeatureCache(capacity=10_000)
    versions = [np.zeros(ROWS, dtype=np.int64), np.zeros(ROWS, dtype=np.int64)]
    unsorted = {0, 1}
    views = [_view(np.random.default_rng(seed), unsorted), _view(rng, set())]
    read = 0
    for step in range(40):
        if step % 5 == 4:  # rows change: a new draw of a few rows of one side
            s, rows = int(rng.integers(2)), rng.choice(ROWS, 2, replace=False)
            fresh = _view(rng, unsorted if s == 0 else set())
            parts = [[*views[s].blocks, views[s].words, views[s].numbers],
                     [*fresh.blocks, fresh.words, fresh.numbers]]
            keep = np.setdiff1d(np.arange(ROWS), rows)
            mixed = [sp.csr_matrix(sp.vstack([old[keep], new[rows]], format="csr")[
                np.argsort(np.concatenate([keep, rows]))]) for old, new in zip(*parts, strict=True)]
            views[s] = PairView(blocks=mixed[:5], words=mixed[5], numbers=mixed[6])
            versions[s][rows] += 1
        n = int(rng.integers(1, 30))
        pairs = np.unique(rng.integers(ROWS, size=(n, 2)), axis=0)
        if step % 3 == 0:  # blocks of sorted rows only: the other path
            pairs = pairs[(pairs[:, 0] >= 2)] if (pairs[:, 0] >= 2).any() else pairs
        ia, ib = pairs[:, 0], pairs[:, 1]
        keys = (ia << 32) | ib
        tags = (versions[0][ia] << 32) | versions[1][ib]
        score = rng.random(len(ia), dtype=np.float32)
        before = cache.hits
        got = cached_features(cache, (views[0], views[1]),
                              (unsorted_parts(views[0]), unsorted_parts(views[1])),
                              (ia, ib), keys, tags, score)
        read += cache.hits - before
        assert _bits(got) == _bits(features(views[0], ia, views[1], ib, score))
    assert read > 100


@pytest.mark.parametrize("part", [1, 2, 5, 64])
def test_block_features_in_cuts_are_one_calls_bits(part: int,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A block whose unsorted pairs sit in one cut only: every cut gives the bits of one call
    over the block (and of one call over a subset of its pairs)."""
    monkeypatch.setattr(pair_features, "PART_PAIRS", part)
    rng = np.random.default_rng(5)
    va, vb = _view(rng, {0, 1}), _view(rng, set())
    pairs = np.unique(rng.integers(ROWS, size=(60, 2)), axis=0)
    pairs = pairs[np.argsort(pairs[:, 0] < 2, kind="stable")]  # the unsorted rows last
    ia, ib = pairs[:, 0], pairs[:, 1]
    score = rng.random(len(ia), dtype=np.float32)
    general = [ua[ia] | ub[ib] for ua, ub in zip(unsorted_parts(va), unsorted_parts(vb),
                                                  strict=True)]
    for rows in (np.arange(len(ia)), np.arange(0, len(ia), 3)):
        got = pair_features.block_features((va, vb), general, (ia, ib), score, rows)
        assert _bits(got) == _bits(features(va, ia[rows], vb, ib[rows], score[rows]))
    whole = pair_features.whole_features((va, vb), (unsorted_parts(va), unsorted_parts(vb)),
                                         (ia, ib), score)
    assert _bits(whole) == _bits(features(va, ia, vb, ib, score))


def test_the_cache_is_bounded_and_reads_back_after_a_merge() -> None:
    cache = FeatureCache(capacity=5000)
    feats = np.arange(3 * len(OWN), dtype=np.float32).reshape(3, len(OWN))
    for start in range(0, 9000, 3):
        cache.store(np.arange(start, start + 3, dtype=np.int64), np.zeros(3, np.int64), 1, feats)
    assert len(cache) <= 5000 + 4096
    hit, got = cache.lookup(np.array([8997, 8998, 8999, 0]), np.zeros(4, np.int64), 1)
    assert hit.tolist() == [True, True, True, False]
    assert _bits(got[:3]) == _bits(feats)
    assert not cache.lookup(np.array([8997]), np.ones(1, np.int64), 1)[0].any()  # tag moved
    assert not cache.lookup(np.array([8997]), np.zeros(1, np.int64), 3)[0].any()  # path moved
    assert TWO_HOP not in OWN.tolist() and 0 not in OWN.tolist()


@pytest.fixture(scope="module")
def bundle() -> ModelBundle:
    return replace(untrained_bundle(synthetic_pair()), pair_head=HEAD)


@pytest.mark.parametrize("batch", [15, 60])
def test_the_engine_scores_the_same_with_kept_features(bundle: ModelBundle, batch: int) -> None:
    """A stream with adds, renames, removed triples and deletions, through an engine without
    the cache, one with it and one whose cache overflows: the same pair book after every
    batch, bit for bit. Fails if ``find_affected`` left an entity's own-part version where a
    name, a sample or a neighbour's name moved."""
    engines = [AlignmentEngine.empty(bundle, engine_settings(pair_feature_cache=c))
               for c in (0, 1 << 20, 64)]
    changes = _changes(seed=7)
    for start in range(0, len(changes), batch):
        books = []
        for engine in engines:
            engine.process(changes[start:start + batch], [])
            books.append([_bits(a) for a in engine.book.arrays()])
        assert books[0] == books[1] == books[2]
    assert engines[1].scores.features.hits > 200
    assert engines[0].scores.features.hits == 0 and len(engines[2].scores.features) < 4200
