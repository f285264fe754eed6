"""PartRows against a dict of per-part CSR rows: keeps, drops, reads and LRU eviction."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from stream_align.engine.part_rows import PartRows, csr_block


def _csr(rng: np.random.Generator, rows: int, dim: int) -> sp.csr_matrix:
    m = sp.random(rows, dim, density=0.3, format="csr", dtype=np.float32, random_state=rng)
    m.data[::3] = -0.0  # stored zeros and signs come back as the same bits
    return m


def test_part_rows_read_back_what_was_kept() -> None:
    rng, rows, want = np.random.default_rng(5), PartRows(3, capacity=10**6), {}
    dims = (7, 1, 12)
    for step in range(200):
        nodes = np.unique(rng.integers(0, 300, rng.integers(1, 25)))
        rows.fit(300)
        if step % 6 == 0:
            held = rows.holding(nodes)
            rows.drop(held)
            for node in held.tolist():
                del want[node]
        else:
            parts = [_csr(rng, len(nodes), dim) for dim in dims]
            rows.keep(nodes, [csr_block(m) for m in parts])
            for i, node in enumerate(nodes.tolist()):
                want[node] = [m[i] for m in parts]
        assert rows.held == len(want)
        ask = np.array(sorted(want), dtype=np.int64)[:40]
        assert not rows.missing(ask).any()
        for p, dim in enumerate(dims):
            got = rows.csr(ask, p, dim, len(ask) + 2)
            expected = sp.vstack([want[n][p] for n in ask.tolist()]
                                 + [sp.csr_matrix((2, dim), dtype=np.float32)], format="csr")
            assert got.shape == expected.shape
            assert np.array_equal(got.indptr, expected.indptr)
            assert np.array_equal(got.indices, expected.indices)
            assert np.array_equal(got.data.view(np.int32), expected.data.view(np.int32))


def test_part_rows_evict_the_least_recently_used_down_to_capacity() -> None:
    rng, rows = np.random.default_rng(6), PartRows(1, capacity=4)
    rows.fit(10)
    for node in range(6):  # used in this order
        rows.keep(np.array([node]), [csr_block(_csr(rng, 1, 3))])
        rows.touch(np.array([node]))
    rows.touch(np.array([0]))  # 0 is now the latest
    rows.evict()
    assert rows.held == 4
    assert rows.holding(np.arange(10)).tolist() == [0, 3, 4, 5]


def test_eviction_follows_the_use_order_through_drops_rekeeps_and_compactions() -> None:
    """Against an ordered dict of last uses (each use moves a node to the end, in the order it
    was given): after every evict the held nodes are the dict's last ``capacity``, through
    drops, rows kept again, uses of a node already used in the same call and the log's
    compactions; the log stays within twice the held nodes and a call's uses."""
    rng, rows, want = np.random.default_rng(7), PartRows(1, capacity=500), {}
    rows.fit(3000)
    for step in range(400):
        nodes = rng.permutation(3000)[:rng.integers(1, 400)]
        if step % 5 == 0:
            held = rows.holding(nodes)
            rows.drop(held)
            for node in held.tolist():
                del want[node]
            continue
        new = nodes[rows.missing(nodes)]
        rows.keep(new, [csr_block(_csr(rng, len(new), 3))])
        for node in new.tolist():
            want[node] = want.pop(node, None)
        again = nodes[: rng.integers(0, len(nodes) + 1)]
        for used in (nodes, again):
            rows.touch(used)
            for node in used.tolist():
                want[node] = want.pop(node)
        rows.evict()
        for node in list(want)[:max(len(want) - 500, 0)]:
            del want[node]
        assert rows.held == len(want)
        assert sorted(rows.holding(np.arange(3000)).tolist()) == sorted(want)
        assert rows._order.nbytes <= 4 * 2 * (500 + 3 * 400)  # 400 steps of ≈ 200 uses kept


def test_no_use_order_is_kept_until_the_nodes_outgrow_the_capacity() -> None:
    """While every node fitted fits the capacity nothing can be evicted and no log is kept;
    once they outgrow it, the nodes held then are the least recently used (in node order),
    and eviction drops them first."""
    rng, rows = np.random.default_rng(8), PartRows(1, capacity=5)
    rows.fit(5)
    rows.keep(np.array([4, 0, 2, 1, 3]), [csr_block(_csr(rng, 5, 3))])
    rows.touch(np.array([3, 1]))
    rows.evict()
    assert rows.held == 5 and len(rows._order) == 0
    rows.fit(8)
    rows.keep(np.array([5, 6]), [csr_block(_csr(rng, 2, 3))])
    rows.touch(np.array([0]))
    rows.evict()
    assert rows.holding(np.arange(8)).tolist() == [0, 3, 4, 5, 6]


def test_all_parts_at_once_are_each_part_read_alone() -> None:
    """``csrs`` (one read of the pool for every part) gives each part as ``csr`` does, bit
    for bit and with the same index types, for any nodes in any order and the first parts
    only; nodes without rows in a part and no nodes at all included."""
    rng, rows = np.random.default_rng(11), PartRows(4, capacity=10**6)
    dims = [5, 9, 1, 3]
    rows.fit(200)
    for _ in range(60):
        nodes = np.unique(rng.integers(0, 200, rng.integers(1, 30)))
        rows.keep(nodes, [csr_block(_csr(rng, len(nodes), dim)) for dim in dims])
        held = np.flatnonzero(~rows.missing(np.arange(200)))
        for ask in (rng.permutation(held)[:rng.integers(0, 50)], held[:0]):
            for width in (4, 2):
                got = rows.csrs(ask, dims[:width], len(ask) + 3)
                assert len(got) == width
                for p, m in enumerate(got):
                    one = rows.csr(ask, p, dims[p], len(ask) + 3)
                    assert m.shape == one.shape
                    for a, b in ((m.indptr, one.indptr), (m.indices, one.indices),
                                 (m.data, one.data)):
                        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
