"""Recovery helpers: offsets, outbox draining, embedding iteration and the state digest."""

from pathlib import Path

import numpy as np

from stream_align.store import Decision, OutboxRecord, StateStore, StoreSettings, TopicPartition
from stream_align.store.recovery import (
    ack_outbox,
    iter_embeddings,
    iter_outbox,
    state_digest,
    stored_offsets,
)

Op = tuple[str, ...]
OPS: list[Op] = [
    ("entity", "A", "a1", "film", "Ran"),
    ("add", "A", "a1", "director", "a2"),
    ("add", "B", "b1", "director", "b2"),
    ("add", "A", "a1", "actor", "a3"),
    ("remove", "A", "a1", "actor", "a3"),
    ("decide", "a1", "b1"),
    ("offset", "kg.triples", "0", "6"),
]


def _apply(store: StateStore, ops: list[Op], per_tx: int = 2) -> None:
    for start in range(0, len(ops), per_tx):
        with store.transaction() as tx:
            for kind, *args in ops[start : start + per_tx]:
                if kind == "entity":
                    tx.graph.upsert_entity(args[0], args[1], args[2], {"name": args[3]})
                elif kind == "add":
                    tx.graph.add_triple(*args)
                elif kind == "remove":
                    tx.graph.remove_triple(*args)
                elif kind == "decide":
                    tx.decisions.put(Decision(args[0], args[1], 0.9, "MATCH"))
                else:
                    tx.delivery.set_offset(args[0], int(args[1]), int(args[2]))
                tx.delivery.append(OutboxRecord("out", None, kind.encode()))


def _digest_after(tmp_path: Path, name: str, ops: list[Op], per_tx: int = 2) -> str:
    with StateStore(StoreSettings(path=tmp_path / name)) as store:
        _apply(store, ops, per_tx)
        return state_digest(store)


def test_digest_equal_for_same_operations_whatever_the_batching(tmp_path: Path) -> None:
    assert _digest_after(tmp_path, "one", OPS, 1) == _digest_after(tmp_path, "two", OPS, 3)


def test_digest_differs_for_different_state(tmp_path: Path) -> None:
    base = _digest_after(tmp_path, "base", OPS)
    assert _digest_after(tmp_path, "short", OPS[:-1]) != base
    swapped = [*OPS[:4], ("remove", "A", "a1", "director", "a2"), *OPS[5:]]
    assert _digest_after(tmp_path, "swapped", swapped) != base


def test_digest_ignores_outbox_and_can_round_scores(store: StateStore) -> None:
    _apply(store, OPS)
    before, rounded_before = state_digest(store), state_digest(store, score_places=6)
    ack_outbox(store, 10**6)
    assert state_digest(store) == before
    with store.transaction() as tx:
        tx.decisions.put(Decision("a1", "b1", 0.9 + 1e-12, "MATCH"))
    assert state_digest(store) != before
    assert state_digest(store, score_places=6) == rounded_before


def test_stored_offsets_leave_out_unknown_partitions(store: StateStore) -> None:
    _apply(store, OPS)
    wanted = [TopicPartition("kg.triples", 0), TopicPartition("kg.triples", 1)]
    assert stored_offsets(store, wanted) == {TopicPartition("kg.triples", 0): 6}


def test_outbox_is_drained_in_order_and_acked(store: StateStore) -> None:
    _apply(store, OPS)
    entries = list(iter_outbox(store))
    assert [e.record.value for e in entries] == [op[0].encode() for op in OPS]
    assert ack_outbox(store, entries[2].seq) == 3
    assert [e.seq for e in iter_outbox(store)] == [e.seq for e in entries[3:]]


def test_embeddings_come_back_with_their_faiss_ids(store: StateStore) -> None:
    with store.transaction() as tx:
        for i in range(5):
            tx.embeddings.put("B", f"e{i}", np.full(4, i), "v1")
            if i % 2 == 0:
                tx.embeddings.bind_faiss_id("B", f"e{i}", 10 + i)
    rows = list(iter_embeddings(store, "B"))
    assert [row.entity for row in rows] == [f"e{i}" for i in range(5)]
    assert [row.faiss_id is not None for row in rows] == [True, False, True, False, True]
    assert rows[3].embedding.vector.tolist() == [3.0] * 4
