"""The numpy list table behaves as the dict of lists it replaced, and stores scores exactly;
the vectorised repair equals the per-list merge it replaced."""

from __future__ import annotations

import numpy as np

from stream_align.engine.list_repair import FreshRows, merge
from stream_align.engine.list_table import ListTable


def test_list_table_is_the_mapping_it_replaced() -> None:
    rng = np.random.default_rng(0)
    table, truth = ListTable(), {}
    for _ in range(500):
        node = int(rng.integers(0, 60))
        if rng.random() < 0.25:
            assert table.pop(node, ()) == truth.pop(node, ())
            continue
        n = int(rng.integers(0, 25))
        scores = np.sort(rng.random(n).astype(np.float32))[::-1].tolist()
        entries = list(zip(scores, rng.integers(0, 1000, n).tolist(), strict=True))
        table[node] = entries
        if entries:
            truth[node] = entries
        else:
            truth.pop(node, None)
    assert table.keys() == truth.keys() and len(table) == len(truth)
    for node in range(60):
        assert table.get(node, ()) == truth.get(node, ())
        assert (node in table) == (node in truth)
    table.top_k = 3
    nodes, others = np.repeat(np.arange(70), 1000), np.tile(np.arange(1000), 70)
    assert table.holds(nodes, others).tolist() == [  # past the table's rows too
        y in table.heads.get(x, ()) for x, y in zip(nodes.tolist(), others.tolist(), strict=True)]


def _merge_one(entries: list, bound: float, fresh: dict, depth: int, k: int
               ) -> tuple[list, float] | None:
    """The per-list Python merge that ``list_repair.merge`` replaced (the reference)."""
    known = {y: score for score, y in entries}
    known.update(fresh)
    merged = sorted(((s, y) for y, s in known.items() if s is not None), reverse=True)
    if bound != float("-inf") and sum(1 for s, _ in merged[:k] if s >= bound) < k:
        return None
    if len(merged) > depth:
        bound = max(bound, merged[depth][0])
        merged = merged[:depth]
    return merged, bound


def test_vectorised_repair_equals_the_per_list_merge() -> None:
    """Random lists (ties included: scores on a coarse grid) and fresh rows — new scores,
    entering members, leaving ones, repeated rows — repaired at once equal the old merge of
    each list, including which lists lose their top-k (searched again)."""
    rng = np.random.default_rng(5)
    depth, k = 4, 3
    searched_again = 0
    for _ in range(30):
        table, bounds = ListTable(), np.full(40, -np.inf)
        table.top_k = k
        for node in range(40):
            n = int(rng.integers(0, depth + 1))
            scores = np.sort(rng.integers(0, 12, n).astype(np.float32) / 4)[::-1]
            members = rng.choice(10, n, replace=False)
            table[node] = list(zip(scores.tolist(), members.tolist(), strict=True))
            if n == depth:
                bounds[node] = float(scores[-1]) - float(rng.integers(0, 2)) / 4
        rows, fresh = FreshRows(), {}
        for _ in range(int(rng.integers(1, 4))):
            count = int(rng.integers(0, 200))
            owner, member = rng.integers(0, 40, count), rng.integers(0, 10, count)
            score = rng.integers(0, 12, count).astype(np.float64) / 4
            score[rng.random(count) < 0.2] = np.nan
            rows.add(owner, member, score)
            for x, y, s in zip(owner.tolist(), member.tolist(), score.tolist(), strict=True):
                fresh.setdefault(x, {})[y] = None if np.isnan(s) else s
        skip = np.array([3, 7], dtype=np.int64)
        found, unknown = merge(table, lambda nodes, b=bounds: b[nodes], rows, skip, depth, k)
        want = {x: _merge_one(table.get(x, []), bounds[x], f, depth, k)
                for x, f in fresh.items() if x not in (3, 7)}
        assert sorted(unknown.tolist()) == sorted(x for x, w in want.items() if w is None)
        searched_again += len(unknown)
        assert sorted(found.owners.tolist()) == sorted(x for x, w in want.items() if w)
        for i, x in enumerate(found.owners.tolist()):
            n = int(found.lengths[i])
            got = list(zip(found.scores[i, :n].tolist(), found.members[i, :n].tolist(),
                           strict=True))
            assert (got, float(found.bounds[i])) == want[x]
    assert searched_again  # the case where a list's top-k becomes unknown was exercised


def test_row_changes_are_the_set_differences_of_the_rows_keys() -> None:
    """``assign`` and ``set_heads`` find what entered and left each row by comparing the
    rows in place; that equals the set differences of all rows' ``node << 32 | other`` keys
    (the reverse index and the returned pairs), rows of other widths and lengths included."""
    from stream_align.engine.list_table import _moved

    def keys(nodes: np.ndarray, rows: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        return np.array([node << 32 | int(y) for node, row, n in zip(
            nodes.tolist(), rows, lengths.tolist(), strict=True) for y in row[:n]],
            dtype=np.int64)

    rng = np.random.default_rng(3)
    for width_old, width_new in ((20, 20), (5, 9), (9, 0), (0, 4)):
        nodes = rng.permutation(300)[:120].astype(np.int64)
        old = np.stack([rng.permutation(40)[:width_old] for _ in nodes]).astype(np.int32) \
            if width_old else np.zeros((120, 0), np.int32)
        new = np.stack([rng.permutation(40)[:width_new] for _ in nodes]) \
            if width_new else np.zeros((120, 0), np.int64)
        old_len, new_len = rng.integers(0, width_old + 1, 120), rng.integers(0, width_new + 1, 120)
        before, after = keys(nodes, old, old_len), keys(nodes, new, new_len)
        gone, came = _moved(nodes, old, old_len, new, new_len)
        assert gone.tolist() == before[~np.isin(before, after)].tolist()
        assert came.tolist() == after[~np.isin(after, before)].tolist()

    table, rows = ListTable(), {}
    table.top_k = 3
    for _ in range(60):
        nodes = rng.permutation(50)[:int(rng.integers(1, 20))].astype(np.int64)
        lengths = rng.integers(0, 8, len(nodes))
        others = np.stack([rng.permutation(30)[:8] for _ in nodes]).astype(np.int64)
        heads_before = {(x, y) for x, r in rows.items() for y in r[:3]}
        got = table.assign(nodes, others, np.zeros(others.shape, np.float32), lengths)
        for node, row, n in zip(nodes.tolist(), others.tolist(), lengths.tolist(), strict=True):
            rows[node] = row[:n]
        heads_after = {(x, y) for x, r in rows.items() for y in r[:3]}
        assert got.tolist() == sorted(x << 32 | y for x, y in heads_before ^ heads_after)
        for y in range(30):
            assert sorted(table.listed_by.get(y, ())) == sorted(
                x for x, r in rows.items() if y in r)
    table.csls_k, heads = 2, {}
    for _ in range(30):
        nodes = rng.permutation(50)[:int(rng.integers(1, 20))].astype(np.int64)
        counts = rng.integers(0, 4, len(nodes))
        new = np.full((len(nodes), 3), -1, dtype=np.int64)
        for i, n in enumerate(counts.tolist()):
            new[i, :n] = rng.permutation(30)[:n]
        before = {(x, y) for x, r in heads.items() for y in r}
        got = table.set_heads(nodes, new)
        for node, row in zip(nodes.tolist(), new.tolist(), strict=True):
            heads[node] = [y for y in row if y >= 0]
        after = {(x, y) for x, r in heads.items() for y in r}
        assert got.tolist() == sorted(x << 32 | y for x, y in before ^ after)


def test_rows_set_in_slices_after_a_reserve_take_one_write_s_room() -> None:
    """Decision 0133: a table reserved for every row and then set a slice at a time holds the
    same rows in arrays of the same size as one write of every row (without the reserve, the
    slices' doublings leave up to twice the room), CSLS tables included."""
    rng = np.random.default_rng(1)
    nodes = np.arange(3_000, dtype=np.int64)
    members = rng.integers(0, 900, (3_000, 6)).astype(np.int64)
    scores = np.sort(rng.random((3_000, 6)).astype(np.float32), axis=1)[:, ::-1].copy()
    lengths = rng.integers(0, 7, 3_000)
    heads = np.where(np.arange(3)[None, :] < np.minimum(lengths, 3)[:, None], members[:, :3], -1)
    tables = []
    for reserve, step in ((False, 3_000), (True, 500), (False, 500)):
        table = ListTable()
        table.top_k, table.csls_k = 3, 2
        if reserve:
            table.reserve(3_000)
        for lo in range(0, 3_000, step):
            part = slice(lo, lo + step)
            table.assign(nodes[part], members[part], scores[part], lengths[part])
            table.set_heads(nodes[part], heads[part])
        tables.append(table)
    whole, sliced, doubled = tables
    assert sliced.nbytes() == whole.nbytes() < doubled.nbytes()
    assert [sliced.get(n) for n in range(3_000)] == [whole.get(n) for n in range(3_000)]
    assert [sliced.heads.get(n) for n in range(3_000)] == [whole.heads.get(n) for n in range(3_000)]
