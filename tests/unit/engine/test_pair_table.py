"""PairTable and PairBook against plain dicts under random changes (merges included)."""

from __future__ import annotations

import random

import numpy as np

from stream_align.engine import pair_table
from stream_align.engine.pair_book import PairBook
from stream_align.engine.pair_table import PairTable


def test_pair_table_equals_a_dict_under_random_changes(monkeypatch) -> None:
    monkeypatch.setattr(pair_table, "_MIN_DELTA", 8)  # merge often
    rng, table, want = random.Random(3), PairTable(), {}
    for step in range(4000):
        u, v = rng.randrange(40), rng.randrange(2**31 - 5, 2**31) if step % 7 == 0 \
            else rng.randrange(60)
        if rng.random() < 0.6:
            value = float(rng.randrange(1000)) / 8
            table.put(u, v, value)
            want[u, v] = value
        else:
            table.discard(u, v)
            want.pop((u, v), None)
        assert table.get(u, v) == want.get((u, v))
        if step % 97 == 0:  # (len merges: checked now and then so changes also stay unmerged)
            assert len(table) == len(want)
            for x in range(40):
                assert sorted(table.seconds(x)) == sorted(b for a, b in want if a == x)
                assert table.row(x) == {b: value for (a, b), value in want.items() if a == x}
            assert table.firsts() == {a for a, _ in want}
            us = np.array(rng.sample(range(45), 12), dtype=np.int64)
            vs = np.array([rng.randrange(60) for _ in us], dtype=np.int64)
            got = table.get_many(us, vs).tolist()
            assert [None if np.isnan(x) else x for x in got] == \
                [want.get((u, v)) for u, v in zip(us.tolist(), vs.tolist(), strict=True)]
            at, vs = table.seconds_of(us)
            assert sorted(zip(us[at].tolist(), vs.tolist(), strict=True)) == \
                sorted((a, b) for a, b in want if a in set(us.tolist()))
            offsets, vs, values = table.rows(np.sort(us))
            assert [(v, x) for v, x in zip(vs.tolist(), values.tolist(), strict=True)] == [
                (b, want[a, b]) for a in sorted(us.tolist()) for b in sorted(
                    b for x, b in want if x == a)]
            assert (np.diff(offsets) == [sum(1 for x, _ in want if x == a)
                                         for a in sorted(us.tolist())]).all()
    assert {(u, v): x for u, v, x in table.items()} == want
    assert all(table.get(u, v) == x for (u, v), x in want.items())
    assert table.get(41, 0) is None and table.get(41, 0, -1.0) == -1.0


def test_a_pair_set_keeps_no_values() -> None:
    pairs = PairTable(values=False)
    for v in range(5000):  # past one merge
        pairs.put(v % 3, v)
    pairs.discard(1, 4)
    pairs.discard(1, 4)  # twice: still one pair gone
    assert len(pairs) == 4999 and pairs.get(0, 3) == 0.0 and pairs.get(1, 4) is None
    assert pairs.nbytes() < 5000 * 8 + 4096 * 120


class _Graph:
    def __init__(self, keys: list[str]) -> None:
        self.keys, self.index = keys, {k: i for i, k in enumerate(keys)}


def test_pair_book_reads_by_key_from_both_sides() -> None:
    book = PairBook(_Graph(["a0", "a1", "a2"]), _Graph(["b0", "b1"]))
    book.set("a1", "b0", 0.5)
    book.set("a2", "b0", 0.25)
    book.set("a1", "b1", 0.75)
    book.drop("a2", "b0")
    book.drop("a0", "b1")  # absent: a no-op
    assert dict(book.scores) == {("a1", "b0"): 0.5, ("a1", "b1"): 0.75}
    assert book.scores["a1", "b1"] == 0.75 and ("a2", "b0") not in book.scores
    assert book.scores.get(("zz", "b0")) is None
    assert sorted(book.rights.get("a1")) == ["b0", "b1"] and book.rights.get("a2") == ()
    assert book.lefts.get("b0") == ["a1"] and book.lefts.keys() == {"b0", "b1"}
    assert book.rights.keys() == {"a1"}
    assert (book.pairs_of(np.array([1]), np.array([])) == [1 << 32, 1 << 32 | 1]).all()
    assert (book.pairs_of(np.array([0, 2]), np.array([1])) == [1 << 32 | 1]).all()
    assert np.isnan(book.node_scores(np.array([1, 2]), np.array([1, 0]))).tolist() == [False,
                                                                                      True]


def test_change_many_in_bulk_equals_one_at_a_time(monkeypatch) -> None:
    """A change too large for the dict goes into the arrays by sorting: same table."""
    monkeypatch.setattr(pair_table, "_MIN_DELTA", 8)
    rng = np.random.default_rng(5)
    bulk, single = PairTable(values=False), PairTable(values=False)
    for step in range(30):
        n = 200 if step % 3 == 0 else 5  # the large ones take the sorted path
        us, vs = rng.integers(0, 50, n), rng.integers(0, 80, n)
        present = bool(step % 4)
        bulk.change_many(us, vs, present)
        for u, v in zip(us.tolist(), vs.tolist(), strict=True):
            single.put(u, v) if present else single.discard(u, v)
        assert list(bulk.items()) == list(single.items())
    nodes, counts = bulk.first_counts()
    assert dict(zip(nodes.tolist(), counts.tolist(), strict=True)) == \
        {u: len(single.seconds(u)) for u in single.firsts()}


def test_put_many_equals_put_one_by_one() -> None:
    rng = np.random.default_rng(3)
    for size in (50, 20_000):  # through the dict, and one sorted merge
        for values in (True, False):
            one, many = PairTable(values=values), PairTable(values=values)
            base = np.unique(rng.integers(0, 300, size=(6_000, 2)), axis=0)
            stored = rng.random(len(base)) if values else None
            for table in (one, many):
                table.load(base[:, 0], base[:, 1], stored)
                table.put(7, 7, 0.5)  # a recent change under the new ones
            new = np.unique(rng.integers(0, 300, size=(size, 2)), axis=0)
            scores = rng.random(len(new))
            for (u, v), x in zip(new.tolist(), scores.tolist(), strict=True):
                one.put(u, v, x if values else 0.0)
            many.put_many(new[:, 0], new[:, 1], scores if values else None)
            assert list(one.items()) == list(many.items())


def test_changes_one_at_a_time_and_many_at_a_time_interleave_as_a_dict(monkeypatch) -> None:
    """Single changes (the dict) and array changes (``put_many``, ``discard_many``,
    ``change_many``: the sorted recent arrays) in any order, read between them by every read
    method: the table is the dict the same changes give, the latest change of a pair winning
    whichever path each took (decision 0055)."""
    monkeypatch.setattr(pair_table, "_MIN_DELTA", 64)  # merges now and then, not every step
    rng = np.random.default_rng(11)
    for values in (True, False):
        table, want = PairTable(values=values), {}
        base = np.unique(rng.integers(0, 30, size=(400, 2)), axis=0)
        table.load(base[:, 0], base[:, 1], np.arange(len(base), dtype=np.float64)
                   if values else None)
        want.update({(u, v): (float(i) if values else 0.0)
                     for i, (u, v) in enumerate(base.tolist())})
        probe = rng.integers(0, 32, 40)  # loaded, nothing pending: the searches alone
        assert table.counts_of(probe).tolist() == [sum(1 for a, _ in want if a == u)
                                                   for u in probe.tolist()]
        for step in range(300):
            kind = step % 5
            pairs = np.unique(rng.integers(0, 30, size=(int(rng.integers(1, 40)), 2)), axis=0)
            us, vs = pairs[:, 0], pairs[:, 1]
            scores = rng.random(len(us)).round(3) if values else np.zeros(len(us))
            if kind == 0:
                table.put_many(us, vs, scores if values else None)
                want.update(zip(zip(us.tolist(), vs.tolist(), strict=True), scores.tolist(),
                                strict=True))
            elif kind == 1:
                table.discard_many(us, vs)
                for pair in zip(us.tolist(), vs.tolist(), strict=True):
                    want.pop(pair, None)
            elif kind == 2:
                present = bool(rng.integers(2))
                table.change_many(us, vs, present)
                for pair in zip(us.tolist(), vs.tolist(), strict=True):  # a set's change: value 0.0
                    _ = want.update({pair: 0.0}) if present else want.pop(pair, None)
            else:
                u, v = int(us[0]), int(vs[0])
                if kind == 3:
                    table.put(u, v, float(scores[0]))
                    want[u, v] = float(scores[0])
                else:
                    table.discard(u, v)
                    want.pop((u, v), None)
            probe_u = rng.integers(0, 32, 25)
            probe_v = rng.integers(0, 32, 25)
            got = table.get_many(probe_u, probe_v).tolist()
            assert [None if np.isnan(x) else x for x in got] == \
                [want.get(p) for p in zip(probe_u.tolist(), probe_v.tolist(), strict=True)]
            assert all(table.get(u, v) == want.get((u, v))
                       for u, v in zip(probe_u.tolist(), probe_v.tolist(), strict=True))
            u = int(probe_u[0])
            mine = {b: x for (a, b), x in want.items() if a == u}
            assert sorted(table.seconds(u)) == sorted(mine) and table.row(u) == mine
            us = np.unique(probe_u)
            at, seconds = table.seconds_of(us)
            assert sorted(zip(us[at].tolist(), seconds.tolist(), strict=True)) == \
                sorted(p for p in want if p[0] in set(us.tolist()))
            assert table.counts_of(probe_u).tolist() == [sum(1 for a, _ in want if a == u)
                                                         for u in probe_u.tolist()]
            _, seconds, got = table.rows(us)
            assert list(zip(seconds.tolist(), got.tolist(), strict=True)) == \
                [(b, want[a, b]) for a in us.tolist() for b in sorted(
                    b for x, b in want if x == a)]
            assert table.size_bound() >= len(want)
            if step % 50 == 0:
                assert table.firsts() == {a for a, _ in want}
        assert {(u, v): x for u, v, x in table.items()} == want
