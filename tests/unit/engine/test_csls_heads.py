"""CSLS candidates kept on two list tables: what a changed row re-ranks (decision 0036)."""

from __future__ import annotations

import numpy as np

from stream_align.csls import hub_scores, rerank
from stream_align.engine import csls_heads
from stream_align.engine.list_table import ListTable

TOP_K, DEPTH, HUB_K = 2, 3, 2


def _table() -> ListTable:
    table = ListTable()
    table.top_k, table.csls_k = TOP_K, HUB_K
    return table


def _set(table: ListTable, rows: dict[int, list[tuple[int, float]]]) -> None:
    nodes = np.array(sorted(rows), dtype=np.int64)
    width = max(len(r) for r in rows.values())
    members = np.full((len(nodes), width), -1, dtype=np.int64)
    scores = np.zeros((len(nodes), width), dtype=np.float32)
    for i, node in enumerate(nodes.tolist()):
        for j, (member, score) in enumerate(rows[node]):
            members[i, j], scores[i, j] = member, score
    table.assign(nodes, members, scores, np.array([len(rows[n]) for n in nodes.tolist()]))


def _expected(tables: tuple[ListTable, ListTable], s: int) -> dict[int, list[int]]:
    """Side ``s``'s heads computed from scratch from both tables' rows."""
    mine, other = tables[s], tables[1 - s]
    hub = {}
    for node in other:
        _, scores, lengths = other.rows(np.array([node]))
        hub[node] = float(hub_scores(scores, lengths, HUB_K)[0])
    out = {}
    for node in sorted(mine.keys()):
        members, scores, lengths = mine.rows(np.array([node]))
        members, scores = members[:, :DEPTH], scores[:, :DEPTH]
        hubs = np.array([[hub.get(m, 0.0) for m in members[0].tolist()]])
        row = rerank(members, scores, np.minimum(lengths, DEPTH), hubs, TOP_K)[0]
        out[node] = [m for m in row.tolist() if m >= 0]
    return out


def _heads(table: ListTable) -> dict[int, list[int]]:
    return {node: list(table.heads.get(node)) for node in sorted(table.keys())}


def _graphs() -> tuple[ListTable, ListTable]:
    a, b = _table(), _table()
    # B's node 10 is a hub: close to every A node; 11 and 12 are close to one A node each.
    _set(a, {0: [(10, 0.9), (11, 0.8), (12, 0.1)], 1: [(10, 0.9), (12, 0.85), (11, 0.1)],
             2: [(10, 0.95), (11, 0.2), (12, 0.1)]})
    _set(b, {10: [(2, 0.95), (0, 0.9), (1, 0.9)], 11: [(0, 0.8), (2, 0.2), (1, 0.1)],
             12: [(1, 0.85), (0, 0.1), (2, 0.1)]})
    return a, b


def test_first_refresh_ranks_every_list_and_demotes_the_hub() -> None:
    tables = _graphs()
    keys, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
    assert [r.tolist() for r in ranked] == [[0, 1, 2], [10, 11, 12]]
    assert _heads(tables[0]) == _expected(tables, 0)
    assert _heads(tables[1]) == _expected(tables, 1)
    assert _heads(tables[0])[0] == [11, 10]  # plain order is 10, 11: the hub drops behind
    assert len(keys[0]) == 6 and len(keys[1]) == 6  # every head entered
    nodes, others = np.repeat(np.arange(14), 14), np.tile(np.arange(14), 14)
    for table in tables:  # the vectorised membership test reads the CSLS heads
        assert table.holds(nodes, others).tolist() == [
            y in table.heads.get(x, ())
            for x, y in zip(nodes.tolist(), others.tolist(), strict=True)]


def test_a_hub_change_re_ranks_exactly_the_lists_holding_it() -> None:
    """B's row 11 changes in its first ``csls_k`` scores: its hub score moves, so the A lists
    holding 11 are re-ranked, and no other A list; B re-ranks only the row that was set."""
    tables = _graphs()
    csls_heads.refresh(tables, DEPTH, TOP_K)
    a, b = tables
    _set(b, {11: [(0, 0.99), (2, 0.98), (1, 0.1)]})
    keys, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
    holders = sorted(a.listed_by.get(11))
    assert ranked[0].tolist() == holders == [0, 1, 2]
    assert ranked[1].tolist() == [11]
    assert _heads(a) == _expected(tables, 0) and _heads(b) == _expected(tables, 1)
    # 11's hub rose from 0.5 to 0.985: A's list 0 puts the hub 10 back in front of it
    assert _heads(a)[0] == [10, 11] and (0 << 32 | 12) not in keys[0].tolist()


def test_a_change_beyond_the_hub_places_re_ranks_only_its_own_list() -> None:
    """A change below B's row's first ``csls_k`` scores leaves its hub score: no A list is
    re-ranked; and a list that holds no moved hub is not touched."""
    tables = _graphs()
    csls_heads.refresh(tables, DEPTH, TOP_K)
    a, b = tables
    _set(b, {12: [(1, 0.85), (0, 0.1), (2, 0.05)]})
    _, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
    # row 12 kept its members and its scores moved by 0.05: its CSLS gaps (1.2, 0.275) cover
    # twice 2 × 0.05, so not even row 12 is re-ranked
    assert ranked[0].tolist() == [] and ranked[1].tolist() == []
    assert _heads(a) == _expected(tables, 0) and _heads(b) == _expected(tables, 1)
    _set(b, {12: [(1, 0.85), (0, 0.1), (2, 0.02)]})  # 0.08 more: the slack is spent
    _, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
    assert ranked[0].tolist() == [] and ranked[1].tolist() == [12]
    _set(b, {12: [(1, 0.85), (0, 0.1), (11, 0.09)]})  # a member replaced: always re-ranked
    _, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
    assert ranked[1].tolist() == [12]
    _, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)  # nothing due: nothing re-ranked
    assert ranked[0].tolist() == [] and ranked[1].tolist() == []
    assert _heads(a) == _expected(tables, 0) and _heads(b) == _expected(tables, 1)


def test_a_dropped_row_clears_its_heads_and_moves_its_hub() -> None:
    tables = _graphs()
    csls_heads.refresh(tables, DEPTH, TOP_K)
    a, b = tables
    b[10] = []  # an entity deleted (Side.drop): its list empties
    _set(a, {n: [(m, s) for s, m in a.get(n) if m != 10] for n in (0, 1, 2)})  # the repair
    _, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
    assert 10 in ranked[1].tolist() and b.heads.get(10) == ()
    assert all(10 not in heads for heads in _heads(a).values())
    assert _heads(a) == _expected(tables, 0) and _heads(b) == _expected(tables, 1)


def test_hub_moves_within_the_slack_re_rank_nothing_and_keep_exact_heads() -> None:
    """A tiny move of B's hub 11 leaves A's lists unranked (the slack covers it); repeated
    moves spend the slack until a list is re-ranked; the heads equal a fresh computation
    throughout. Fails if the slack is not spent (a list would keep stale heads)."""
    tables = _graphs()
    csls_heads.refresh(tables, DEPTH, TOP_K)
    a, b = tables
    _set(b, {11: [(0, 0.8001), (2, 0.2), (1, 0.1)]})
    _, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
    assert ranked[0].tolist() == [] and ranked[1].tolist() == []  # 11's own row: the same
    assert _heads(a) == _expected(tables, 0)
    reranked = 0
    for step in range(1, 200):
        _set(b, {11: [(0, 0.8001 + 0.002 * step), (2, 0.2), (1, 0.1)]})
        _, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
        reranked += len(ranked[0])
        assert _heads(a) == _expected(tables, 0) and _heads(b) == _expected(tables, 1)
    assert 0 < reranked < 3 * 199  # spent slack re-ranks; most steps re-rank nothing


def test_random_hub_moves_keep_every_head_exact() -> None:
    """Random rows and random small and large changes of both sides' rows: after every
    refresh both sides' heads equal a computation from scratch, and some lists holding a
    moved hub were left alone (else the slack would prove nothing)."""
    rng = np.random.default_rng(4)
    tables = (_table(), _table())
    n = 12

    def row(scores: np.ndarray) -> list[tuple[int, float]]:
        members = rng.choice(n, DEPTH + 1, replace=False)
        return [(int(m), float(x)) for m, x in zip(members, np.sort(scores)[::-1],
                                                   strict=True)]

    base = [{i: rng.uniform(0, 1, DEPTH + 1) for i in range(n)} for _ in (0, 1)]
    for s in (0, 1):
        _set(tables[s], {i: row(base[s][i]) for i in range(n)})
    rows = [{i: tables[s].get(i) for i in range(n)} for s in (0, 1)]
    csls_heads.refresh(tables, DEPTH, TOP_K)
    skipped = 0
    for _ in range(300):
        s, i = int(rng.integers(2)), int(rng.integers(n))
        scale = 1e-4 if rng.random() < 0.8 else 0.2
        moved = sorted(((score + rng.normal(0, scale), m) for score, m in rows[s][i]),
                       reverse=True)
        rows[s][i] = [(float(np.float32(x)), m) for x, m in moved]
        _set(tables[s], {i: [(m, x) for x, m in rows[s][i]]})
        holders = len(tables[1 - s].listed_by.get(i))
        _, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
        skipped += holders - len(ranked[1 - s])
        assert _heads(tables[0]) == _expected(tables, 0)
        assert _heads(tables[1]) == _expected(tables, 1)
    assert skipped > 100


def test_a_tie_has_no_slack_and_the_least_hub_move_re_ranks() -> None:
    """Two members of A's row 0 tie in CSLS (same score, same hub), so their order is the
    row's plain order and the row has no slack: B's hub 11 moving by one float32 step of a
    score flips the order, and the row must be re-ranked for it. Fails if a tie were given
    slack (the heads would stay 10, 11)."""
    a, b = _table(), _table()
    _set(a, {0: [(10, 0.5), (11, 0.5), (12, 0.1)], 1: [(12, 0.9), (10, 0.2), (11, 0.2)]})
    _set(b, {10: [(0, 0.5), (1, 0.3)], 11: [(0, 0.5), (1, 0.3)], 12: [(1, 0.9), (0, 0.1)]})
    tables = (a, b)
    csls_heads.refresh(tables, DEPTH, TOP_K)
    assert a.heads.get(0) == (10, 11)
    lower = float(np.nextafter(np.float32(0.3), np.float32(0)))
    _set(b, {11: [(0, 0.5), (1, lower)]})  # 11's hub falls by ≈ 1.5e-8: its CSLS rises
    _, ranked = csls_heads.refresh(tables, DEPTH, TOP_K)
    assert 0 in ranked[0].tolist()
    assert a.heads.get(0) == (11, 10)
    assert _heads(a) == _expected(tables, 0) and _heads(b) == _expected(tables, 1)


def test_a_refresh_without_moves_sets_the_same_heads_and_finds_no_keys() -> None:
    """A restore's refresh (``moves`` False) re-ranks every row as the full refresh does —
    same heads, same slack (the next change re-ranks the same rows) — and compares none."""
    full, bare = _graphs(), _graphs()
    keys, ranked = csls_heads.refresh(full, DEPTH, TOP_K)
    none, bare_ranked = csls_heads.refresh(bare, DEPTH, TOP_K, moves=False)
    assert [r.tolist() for r in bare_ranked] == [r.tolist() for r in ranked]
    assert len(keys[0]) and not len(none[0]) and not len(none[1])
    for s in (0, 1):
        assert _heads(bare[s]) == _heads(full[s])
    for tables in (full, bare):
        _set(tables[1], {11: [(0, 0.99), (2, 0.98), (1, 0.1)]})
    again = [csls_heads.refresh(t, DEPTH, TOP_K)[1] for t in (full, bare)]
    assert [r.tolist() for r in again[0]] == [r.tolist() for r in again[1]]
    assert _heads(bare[0]) == _heads(full[0]) and _heads(bare[1]) == _heads(full[1])


def test_listed_within_names_whether_every_row_with_members_is_among_the_rows() -> None:
    """The holders of moved hubs are looked up unless every row with members was set anew."""
    a, _ = _graphs()
    assert a.listed_within(np.array([0, 1, 2]))
    assert a.listed_within(np.array([0, 1, 2, 7]))  # a row without members changes nothing
    assert not a.listed_within(np.array([0, 2]))


def _random_tables(seed: int) -> tuple[ListTable, ListTable]:
    """Two tables of 40 rows of 3 random members and scores (ties included)."""
    rng = np.random.default_rng(seed)
    tables = _table(), _table()
    for table in tables:
        members = np.stack([rng.permutation(40)[:DEPTH] for _ in range(40)]).astype(np.int64)
        scores = np.round(rng.random((40, DEPTH)), 1).astype(np.float32)
        order = np.argsort(-scores, axis=1, kind="stable")
        table.assign(np.arange(40, dtype=np.int64), np.take_along_axis(members, order, 1),
                     np.take_along_axis(scores, order, 1), rng.integers(1, DEPTH + 1, 40))
    return tables


def test_rows_re_ranked_a_slice_at_a_time_equal_all_at_once(monkeypatch) -> None:
    """A refresh re-ranks ``RERANK_ROWS`` rows at a time (decision 0133): the same keys, rows
    re-ranked, heads and slack as one pass over every row, at the first refresh and after a
    change of some rows."""
    results = []
    for rows in (7, csls_heads.RERANK_ROWS):
        monkeypatch.setattr(csls_heads, "RERANK_ROWS", rows)
        tables = _random_tables(4)
        first = csls_heads.refresh(tables, DEPTH, TOP_K)
        _set(tables[1], {5: [(3, 0.97), (9, 0.5)], 17: [(3, 0.2)]})
        second = csls_heads.refresh(tables, DEPTH, TOP_K)
        slack = [t.keep_heads(np.arange(40), np.zeros(40)) for t in tables]
        results.append(([[k.tolist() for k in pair] for done in (first, second)
                         for pair in done], [_heads(t) for t in tables],
                        [s.tolist() for s in slack]))
    assert len(results[0][0][1][0]) > 7  # more than one slice re-ranked
    assert results[0] == results[1]
