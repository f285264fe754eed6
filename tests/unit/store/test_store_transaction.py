"""Transactions: reads-your-writes, atomic commit, rollback, persistence, life cycle."""

from pathlib import Path

import numpy as np
import pytest

from stream_align.store import (
    Edge,
    StateStore,
    StoreClosedError,
    StoreSettings,
    Transaction,
    TransactionStateError,
    TxState,
)


def test_reads_see_pending_writes_merged_with_committed_state(store: StateStore) -> None:
    with store.transaction() as tx:
        for tail in ["b", "d", "f"]:
            tx.graph.add_triple("A", "h", "r", tail)
    with store.transaction() as tx:
        tx.graph.add_triple("A", "h", "r", "a")  # before every committed key
        tx.graph.add_triple("A", "h", "r", "c")  # between committed keys
        tx.graph.remove_triple("A", "h", "r", "d")  # hides a committed key
        tx.graph.add_triple("A", "h", "r", "z")  # after every committed key
        tx.graph.add_triple("A", "h2", "r", "x")  # another prefix: not visible below
        expected = [Edge("r", t) for t in ["a", "b", "c", "f", "z"]]
        assert list(tx.graph.out_edges("A", "h")) == expected
        assert tx.graph.degree("A", "h").out == 5
        assert tx.graph.has_triple("A", "h", "r", "c")
        assert not tx.graph.has_triple("A", "h", "r", "d")
        tx.graph.add_triple("A", "h", "r", "d")  # re-add after delete, same transaction
        assert len(list(tx.graph.out_edges("A", "h"))) == 6


def test_other_transactions_see_nothing_before_commit(store: StateStore) -> None:
    writer = store.transaction()
    writer.graph.add_triple("A", "h", "r", "t")
    with store.transaction() as reader:
        assert not reader.graph.has_triple("A", "h", "r", "t")
    assert writer.commit() == 4  # fwd, rev, two degree counters
    with store.transaction() as reader:
        assert reader.graph.has_triple("A", "h", "r", "t")


def test_exception_discards_every_write(store: StateStore) -> None:
    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.graph.add_triple("A", "h", "r", "t")
        tx.delivery.set_offset("kg.triples", 0, 10)
        raise RuntimeError("boom")
    assert tx.state is TxState.ROLLED_BACK
    with store.transaction() as tx:
        assert not tx.graph.has_triple("A", "h", "r", "t")
        assert tx.delivery.offset("kg.triples", 0) is None


def test_a_finished_transaction_cannot_be_used(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.graph.add_triple("A", "h", "r", "t")
        tx.commit()  # explicit commit inside the block; the exit does not commit twice
    assert tx.state is TxState.COMMITTED
    with pytest.raises(TransactionStateError):
        tx.graph.add_triple("A", "h", "r", "u")
    with pytest.raises(TransactionStateError):
        tx.commit()


def test_state_survives_close_and_reopen(settings: StoreSettings) -> None:
    with StateStore(settings) as store, store.transaction() as tx:
        tx.graph.upsert_entity("B", "e", "person", {"name": "Mifune"})
        tx.graph.add_triple("B", "e", "acted_in", "f")
        tx.delivery.set_offset("kg.triples", 3, 42)
    with StateStore(settings) as store, store.transaction() as tx:
        entity = tx.graph.entity("B", "e")
        assert entity is not None and entity.attributes["name"] == "Mifune"
        assert list(tx.graph.in_edges("B", "f")) == [Edge("acted_in", "e")]
        assert tx.delivery.offset("kg.triples", 3) == 42


def test_synced_commits_persist(tmp_path: Path) -> None:
    settings = StoreSettings(path=tmp_path / "db", sync_writes=True, compression="zstd")
    with StateStore(settings) as store, store.transaction() as tx:
        tx.graph.add_triple("A", "h", "r", "t")
    with StateStore(settings) as store, store.transaction() as tx:
        assert tx.graph.has_triple("A", "h", "r", "t")


def test_closed_store_refuses_work(store: StateStore) -> None:
    tx = store.transaction()
    store.close()
    with pytest.raises(StoreClosedError):
        store.transaction()
    with pytest.raises(StoreClosedError):
        tx.graph.has_triple("A", "h", "r", "t")


def _lists(tx: Transaction) -> list[str]:
    return [entity for entity, *_ in tx.candidates.lists("A")]


def test_a_cleared_table_hides_every_committed_row_and_keeps_later_writes(
        store: StateStore) -> None:
    ids, scores = np.array([[3, 4]] * 3), np.array([[0.5, 0.25]] * 3)
    with store.transaction() as tx:
        tx.candidates.put_lists("A", ["a", "b", "c"], np.full(3, 0.1), ids, scores)
        tx.candidates.put_pair_rows(["a"], np.array([0, 2]), ids[0], scores[0])
        tx.candidates.set_state("s1")
    with store.transaction() as tx:
        tx.candidates.clear()
        tx.candidates.put_lists("A", ["b"], np.array([0.2]), ids[:1, :1], scores[:1, :1])
        assert _lists(tx) == ["b"]  # reads see the clear, and the write after it
        assert list(tx.candidates.pairs()) == []
        assert tx.candidates.state() == "s1"  # other tables untouched
    with store.transaction() as tx:
        assert _lists(tx) == ["b"]
        assert [bound for _, bound, *_ in tx.candidates.lists("A")] == [0.2]
        assert list(tx.candidates.pairs()) == []


def test_rows_written_at_once_read_back_as_written(store: StateStore) -> None:
    """Batched rows: ``-1`` gaps skipped in order, a row without members deletes."""
    with store.transaction() as tx:
        tx.candidates.put_lists("A", ["a", "b", "c"], np.array([0.5, -np.inf, 0.25]),
                                np.array([[7, -1, 3], [9, 8, 2], [-1, 5, -1]]),
                                np.array([[0.9, 0.0, 0.7], [0.6, 0.5, 0.4], [0.0, 0.3, 0.0]],
                                         dtype=np.float32))
        tx.candidates.put_pair_rows(["a", "b", "c", "d"], np.array([0, 2, 2, 5, 5]),
                                    np.array([4, 6, -1, 1, 2]),
                                    np.array([0.1, 0.2, 0.3, 0.4, 0.5], dtype=np.float32))
    with store.transaction() as tx:
        got = [(e, bound, ids.tolist(), s.tolist()) for e, bound, ids, s in
               tx.candidates.lists("A")]
        assert got == [("a", 0.5, [7, 3], [np.float32(0.9), np.float32(0.7)]),
                       ("b", -np.inf, [9, 8, 2], [np.float32(x) for x in (0.6, 0.5, 0.4)]),
                       ("c", 0.25, [5], [np.float32(0.3)])]
        pairs = [(e, ids.tolist(), s.tolist()) for e, ids, s in tx.candidates.pairs()]
        assert pairs == [("a", [4, 6], [np.float32(0.1), np.float32(0.2)]),
                         ("c", [1, 2], [np.float32(0.4), np.float32(0.5)])]
        tx.candidates.put_lists("A", ["a"], np.array([0.5]), np.array([[-1, -1]]),
                                np.zeros((1, 2), dtype=np.float32))
        tx.candidates.put_pair_rows(["a"], np.array([0, 0]), np.zeros(0, dtype=np.int64),
                                    np.zeros(0, dtype=np.float32))
        assert _lists(tx) == ["b", "c"] and [e for e, *_ in tx.candidates.pairs()] == ["c"]


def test_a_rolled_back_clear_deletes_nothing(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.candidates.put_lists("A", ["a"], np.array([0.1]), np.array([[1]]), np.array([[0.5]]))
    tx = store.transaction()
    tx.candidates.clear()
    tx.rollback()
    with store.transaction() as tx:
        assert _lists(tx) == ["a"]
    with store.transaction() as tx:
        tx.candidates.clear()  # clearing an empty table in a later commit is fine too
    with store.transaction() as tx:
        tx.candidates.clear()
        assert _lists(tx) == []


def test_rows_encoded_in_slices_read_back_as_rows_encoded_at_once(
        store: StateStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bulk refresh's rows are encoded a slice at a time (``ENCODE_ROWS``): the stored
    values are the same bytes, whatever the slice boundaries (a deleting row among them)."""
    from stream_align.store import candidate_store

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, size=(7, 4))
    ids[rng.random((7, 4)) < 0.3] = -1
    ids[4] = -1  # no members: deletes
    scores = rng.random((7, 4)).astype(np.float32)
    keys, bounds = [f"e{i}" for i in range(7)], rng.random(7)
    with store.transaction() as tx:
        tx.candidates.put_lists("A", keys, bounds, ids, scores)
        monkeypatch.setattr(candidate_store, "ENCODE_ROWS", 3)
        tx.candidates.put_lists("B", keys, bounds, ids, scores)
    with store.transaction() as tx:
        whole, sliced = (
            [(e, b, i.tolist(), s.tolist()) for e, b, i, s in tx.candidates.lists(g)]
            for g in ("A", "B"))
        assert sliced == whole and len(whole) == 6
        assert [e for e, *_ in whole] == [k for k in keys if k != "e4"]



def test_a_commit_hands_each_staged_value_over_to_the_write_batch(store: StateStore) -> None:
    """The commit empties the staged layer as it copies it into RocksDB's batch, so a staged
    value is freed once copied (decision 0063): the layer is closed first, every table's dict
    is emptied, and every row lands, a cleared table's committed rows deleted first."""
    with store.transaction() as tx:
        tx.candidates.put_lists("A", ["a", "b"], np.array([0.1, 0.2]), np.array([[1], [2]]),
                                np.array([[0.5], [0.25]]))
    tx = store.transaction()
    tx.candidates.clear()
    tx.candidates.put_lists("A", ["c"], np.array([0.3]), np.array([[3]]), np.array([[0.75]]))
    tx.graph.add_triple("A", "h", "r", "t")
    kv, held = tx._kv, []
    cleared = kv.cleared()
    handed = ((table, held.append(values) or values) for table, values in kv.handed_over())
    assert tx._database.write_tables(handed, cleared) >= 3  # the range deletion, c, the triple
    assert held and all(not values for values in held)  # emptied as written
    with pytest.raises(TransactionStateError):
        tx.candidates.state()
    with store.transaction() as tx:
        assert _lists(tx) == ["c"] and tx.graph.has_triple("A", "h", "r", "t")


def test_rows_staged_at_once_equal_rows_staged_one_by_one(store: StateStore) -> None:
    """``put_rows`` (a later duplicate wins, ``None`` deletes) stages what ``put`` and
    ``delete`` one key at a time stage: the same reads, the same scan, the same dict."""
    from stream_align.store.keys import Table
    with store.transaction() as tx:
        for key in (b"b", b"d", b"f"):
            tx._kv.put(Table.PAIR_SCORE, key, b"old " + key)
    keys = [b"a", b"d", b"c", b"f", b"a", b"g"]
    values = [b"1", None, b"2", b"3", b"4", None]
    at_once, one_by_one = store.transaction(), store.transaction()
    at_once._kv.put(Table.PAIR_SCORE, b"c", b"staged before")
    one_by_one._kv.put(Table.PAIR_SCORE, b"c", b"staged before")
    at_once._kv.put_rows(Table.PAIR_SCORE, keys, values)
    for key, value in zip(keys, values, strict=True):
        if value is None:
            one_by_one._kv.delete(Table.PAIR_SCORE, key)
        else:
            one_by_one._kv.put(Table.PAIR_SCORE, key, value)
    for tx in (at_once, one_by_one):
        assert list(tx._kv.scan(Table.PAIR_SCORE)) == [
            (b"a", b"4"), (b"b", b"old b"), (b"c", b"2"), (b"f", b"3")]
        assert tx._kv.get(Table.PAIR_SCORE, b"d") is None
    assert list(at_once._kv._tables[Table.PAIR_SCORE].values.items()) == \
        list(one_by_one._kv._tables[Table.PAIR_SCORE].values.items())
    at_once.rollback()
    one_by_one.rollback()
