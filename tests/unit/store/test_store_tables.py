"""Embeddings, FAISS id map, decisions, offsets and outbox."""

import numpy as np
import pytest

from stream_align.store import (
    Decision,
    InvalidValueError,
    OutboxRecord,
    StateStore,
    StoreSettings,
    TopicPartition,
)


def test_embeddings_keep_float32_vector_and_model_version(store: StateStore) -> None:
    vector = np.linspace(-1, 1, 8)
    with store.transaction() as tx:
        tx.embeddings.put("A", "e", vector, "model-7")
        tx.embeddings.put("B", "e", np.ones(8, dtype=np.float32), "model-7")
    with store.transaction() as tx:
        stored = tx.embeddings.get("A", "e")
        assert stored is not None and stored.model_version == "model-7"
        np.testing.assert_array_equal(stored.vector, vector.astype(np.float32))
        tx.embeddings.delete("A", "e")
        assert tx.embeddings.get("A", "e") is None
        assert [entity for entity, _ in tx.embeddings.all("B")] == ["e"]


def test_faiss_ids_map_both_ways_and_their_counter_persists(settings: StoreSettings) -> None:
    with StateStore(settings) as store, store.transaction() as tx:
        assert tx.embeddings.next_faiss_id() == 0
        tx.embeddings.bind_faiss_id("A", "x", 0)
        tx.embeddings.bind_faiss_id("B", "x", 1)
        tx.embeddings.set_next_faiss_id(2)
        assert tx.embeddings.release_faiss_id("B", "x") == 1
        assert tx.embeddings.entity_for_faiss_id("B", 1) is None
    with StateStore(settings) as store, store.transaction() as tx:
        assert tx.embeddings.faiss_id("A", "x") == 0
        assert tx.embeddings.entity_for_faiss_id("A", 0) == "x"
        assert tx.embeddings.entity_for_faiss_id("A", -1) is None  # FAISS's "no result"
        assert tx.embeddings.next_faiss_id() == 2
        tx.embeddings.bind_faiss_id("A", "x", 5)  # a rebind drops the old reverse row
        assert tx.embeddings.entity_for_faiss_id("A", 0) is None
        assert tx.embeddings.entity_for_faiss_id("A", 5) == "x"


def test_decisions_are_readable_from_both_sides(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.decisions.put(Decision("a1", "b1", 0.91, "MATCH"))
        tx.decisions.put(Decision("a2", "b2", 0.88, "MATCH"))
        tx.decisions.put(Decision("a1", "b2", 0.95, "MATCH"))  # a1 moves from b1 to b2
    with store.transaction() as tx:
        assert tx.decisions.get("a1") == Decision("a1", "b2", 0.95, "MATCH")
        assert tx.decisions.for_right("b1") == []
        assert [d.left for d in tx.decisions.for_right("b2")] == ["a1", "a2"]
        tx.decisions.delete("a2")
        assert [d.left for d in tx.decisions.all()] == ["a1"]
        assert [d.left for d in tx.decisions.for_right("b2")] == ["a1"]


def test_offsets_per_topic_partition(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.delivery.set_offset("kg.triples", 0, 10)
        tx.delivery.set_offset("kg.triples", 1, 7)
        tx.delivery.set_offset("kg.labels", 0, 3)
        tx.delivery.set_offset("kg.triples", 0, 11)
        with pytest.raises(InvalidValueError):
            tx.delivery.set_offset("kg.triples", 0, -1)
    with store.transaction() as tx:
        assert dict(tx.delivery.offsets()) == {
            TopicPartition("kg.labels", 0): 3,
            TopicPartition("kg.triples", 0): 11,
            TopicPartition("kg.triples", 1): 7,
        }


def test_outbox_keeps_append_order_across_transactions_and_acks(store: StateStore) -> None:
    records = [OutboxRecord("out", f"k{i}".encode(), f"v{i}".encode()) for i in range(300)]
    for start in range(0, 300, 100):
        with store.transaction() as tx:
            seqs = [tx.delivery.append(record) for record in records[start : start + 100]]
            assert seqs == list(range(start, start + 100))
    with store.transaction() as tx:
        assert [entry.record for entry in tx.delivery.outbox()] == records
        assert tx.delivery.ack(149) == 150
        assert [entry.seq for entry in tx.delivery.outbox()][:2] == [150, 151]
    with store.transaction() as tx:
        assert tx.delivery.append(OutboxRecord("out", None, None)) == 300  # counter not reset
        assert tx.delivery.ack(10_000) == 151
        assert list(tx.delivery.outbox()) == []


def test_embeddings_with_ids_join_in_key_order(store: StateStore) -> None:
    """Keys sort by their packed bytes (length first), not as strings: the join must too."""
    keys = ["bb", "a", "c", "aaa", "é"]
    with store.transaction() as tx:
        for i, key in enumerate(keys):
            tx.embeddings.put("A", key, np.full(4, i), "m")
            if key != "c":  # an embedding without an id (never indexed)
                tx.embeddings.bind_faiss_id("A", key, 10 + i)
        tx.embeddings.bind_faiss_id("A", "zz", 99)  # an id whose embedding is gone
    with store.transaction() as tx:
        got = {key: fid for key, _, fid in tx.embeddings.all_with_ids("A")}
        order = [key for key, _ in tx.embeddings.all("A")]
    assert list(got) == order
    assert got == {"a": 11, "bb": 10, "c": None, "aaa": 13, "é": 14}
