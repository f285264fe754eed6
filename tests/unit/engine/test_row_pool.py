"""RowPool against a dict of arrays under random replacements (compactions included)."""

from __future__ import annotations

import numpy as np

from stream_align.engine import row_pool
from stream_align.engine.row_pool import RowPool, spans


def test_row_pool_equals_a_dict_of_blocks() -> None:
    rng, pool, want = np.random.default_rng(11), RowPool(3), {}
    for step in range(300):
        nodes = np.unique(rng.integers(0, 400, rng.integers(1, 40)))
        blocks = [rng.integers(0, 2**31 - 1, (int(rng.integers(0, 6)), 3)).astype(np.int64)
                  for _ in nodes]
        if step % 5 == 0:
            pool.clear(nodes)
            for node in nodes.tolist():
                want.pop(node, None)
        else:
            pool.set_many(nodes, blocks)
            want.update(zip(nodes.tolist(), blocks, strict=True))
        ask = np.unique(rng.integers(0, 500, 30))
        expected = [want[n] for n in ask.tolist() if n in want]
        got = pool.gather(ask)
        assert got.dtype == np.int64
        assert np.array_equal(got, np.concatenate(expected) if expected else got[:0])
        held = np.array([n for n in ask.tolist() if n in want], dtype=np.int64)
        sizes = np.array([len(want[n]) for n in held.tolist()], dtype=np.int64)
        first = (rng.random(len(held)) * (sizes + 1)).astype(np.int64)  # a part of each block
        count = ((sizes - first) * rng.random(len(held))).astype(np.int64)
        part = [want[n][a:a + c] for n, a, c in zip(held.tolist(), first.tolist(),
                                                      count.tolist(), strict=True)]
        cut = pool.cut(held, first, count)
        assert cut.dtype == np.int32
        assert np.array_equal(cut, np.concatenate(part) if part else cut)
    live = sum(len(b) for b in want.values())
    assert pool.nbytes() <= 12 * max(4 * live, 2048) + 12 * 500  # compacted, not append-only


def test_a_compaction_moves_blocks_in_place_slab_by_slab(monkeypatch) -> None:
    """Blocks written out of node order, replaced and cleared, then compacted in slabs of 5
    rows (smaller than some blocks): the rows read back are the blocks last written, and
    a compaction that leaves room enough keeps the pool's array (no second pool beside it)."""
    monkeypatch.setattr(row_pool, "SLAB_ROWS", 5)
    rng, pool, want = np.random.default_rng(5), RowPool(2), {}
    for node in rng.permutation(300).tolist():  # starts out of node order
        want[node] = rng.integers(0, 1000, (int(rng.integers(1, 9)), 2))
        pool.set_many(np.array([node]), [want[node]])
    for node in rng.choice(300, 200, replace=False).tolist():  # garbage between live blocks
        if node % 3:
            want[node] = rng.integers(0, 1000, (int(rng.integers(0, 9)), 2))
            pool.set_many(np.array([node]), [want[node]])
        else:
            want.pop(node, None)
            pool.clear(np.array([node]))
    before = pool._rows
    pool._compact(1)
    assert pool._rows is before  # compacted in place: the live rows left room enough
    assert pool._used == sum(len(b) for b in want.values())
    nodes = np.arange(300)
    expected = [want[n] for n in nodes.tolist() if n in want and len(want[n])]
    assert np.array_equal(pool.gather(nodes), np.concatenate(expected))
    more = len(pool._rows) * 2  # no room: a new, larger pool with the same rows
    pool._compact(more)
    assert len(pool._rows) >= pool._used + more
    assert np.array_equal(pool.gather(nodes), np.concatenate(expected))


def test_spans_are_each_blocks_rows_in_order() -> None:
    """``spans`` equals the blocks' ranges concatenated: empty blocks first, between and
    last, blocks out of pool order, adjacent and repeated blocks, ``int32`` counts, none."""
    rng = np.random.default_rng(4)
    for _ in range(20):
        counts = rng.integers(0, 6, rng.integers(0, 12)) * rng.integers(0, 2, 1)[0]
        counts = np.concatenate([[0], counts, [0]]).astype(np.int32)
        starts = rng.integers(0, 50, len(counts)).astype(np.int64)
        want = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, counts, strict=True)]
                              + [np.zeros(0, dtype=np.int64)]).astype(np.int64)
        got = spans(starts, counts)
        assert got.dtype == np.int64 and got.tolist() == want.tolist()
    assert spans(np.array([5, 8, 8]), np.array([3, 2, 2])).tolist() == [5, 6, 7, 8, 9, 8, 9]
