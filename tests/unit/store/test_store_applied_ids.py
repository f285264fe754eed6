"""Remembered input ids: duplicate vs conflict, a bounded window, atomic with the batch."""

from stream_align.store import StateStore
from stream_align.store.applied_ids import Seen
from stream_align.store.keys import Table

D1, D2 = b"1" * 16, b"2" * 16


def test_an_id_is_new_once_then_duplicate_or_conflict(store: StateStore) -> None:
    with store.transaction() as tx:
        assert tx.applied.see("triple", [("e1", D1)]) == [Seen.NEW]
        assert tx.applied.see("triple", [("e1", D1)]) == [Seen.DUPLICATE]  # same transaction
        assert tx.applied.see("label", [("e1", D2)]) == [Seen.NEW]  # kinds: own id spaces
        assert tx.applied.see("triple", [("e2", D1), ("e2", D1), ("e2", D2)]) == [
            Seen.NEW, Seen.DUPLICATE, Seen.CONFLICT]  # within one call
    with store.transaction() as tx:
        assert tx.applied.see("triple", [("e1", D1)]) == [Seen.DUPLICATE]
        assert tx.applied.see("triple", [("e1", D2)]) == [Seen.CONFLICT]


def test_a_rolled_back_batch_remembers_nothing(store: StateStore) -> None:
    tx = store.transaction()
    assert tx.applied.see("triple", [("e1", D1)]) == [Seen.NEW]
    tx.rollback()  # a crash before the commit: the re-read record is new again
    with store.transaction() as tx:
        assert tx.applied.see("triple", [("e1", D1)]) == [Seen.NEW]


def test_the_window_forgets_the_oldest_first(store: StateStore) -> None:
    for batch in range(4):
        with store.transaction() as tx:
            for i in range(5):
                assert tx.applied.see("triple", [(f"e{batch * 5 + i}", D1)]) == [Seen.NEW]
            tx.applied.forget_beyond(7)
    with store.transaction() as tx:
        assert sum(1 for _ in tx.rows(Table.APPLIED)) == 7
        assert sum(1 for _ in tx.rows(Table.APPLIED_BY_SEQ)) == 7
        assert tx.applied.see("triple", [("e13", D2)]) == [Seen.CONFLICT]  # still remembered
        assert tx.applied.see("triple", [("e12", D2)]) == [Seen.NEW]  # forgotten
