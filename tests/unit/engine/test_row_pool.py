"""RowPool against a dict of arrays under random replacements (compactions included)."""

from __future__ import annotations

import numpy as np

from stream_align.engine.row_pool import RowPool


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
