"""Whole tables read at once (decision 0067): the same rows, numbers and values as reading
them a row at a time, whatever the keys hold — long keys, NULs, multi-byte text — and a
store that lies (a triple naming no entity) is refused, not misread."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.store import StateStore, blocks
from stream_align.store.blocks import WIDEST
from stream_align.store.errors import CorruptValueError

KEYS = ["b", "a", "电影/七武士", "x\x00y", "x", "é" * 10, "z" * (WIDEST + 5), "b\x00"]


def _graph(store: StateStore, keys: list[str], triples: list[tuple[str, str, str]]) -> None:
    with store.transaction() as tx:
        for i, key in enumerate(keys):
            tx.graph.upsert_entity("A", key, f"t{i % 2}", {"name": key[:3]} if i % 3 else {})
        for head, relation, tail in triples:
            tx.graph.add_triple("A", head, relation, tail)


@pytest.mark.parametrize("long_key", [False, True])
def test_a_graph_read_at_once_equals_its_rows(store: StateStore, long_key: bool) -> None:
    keys = KEYS if long_key else [k for k in KEYS if len(k.encode()) <= WIDEST]
    rng = np.random.default_rng(3)
    relations = ["r/影", "a", "r\x00", "b" * 40]
    triples = {(keys[h], relations[r], keys[t])
               for h, r, t in zip(rng.integers(0, len(keys), 60), rng.integers(0, 4, 60),
                                  rng.integers(0, len(keys), 60), strict=True)}
    _graph(store, keys, sorted(triples))
    with store.transaction() as tx:
        rows = tx.graph.read_all("A")
        entities = list(tx.graph.entities("A"))
        stored = list(tx.graph.triples("A"))
    assert rows.keys == [e.id for e in entities]  # key order: position is the number
    assert rows.types == [e.type for e in entities]
    assert rows.attributes == [e.attributes for e in entities]
    named = {(rows.keys[h], rows.relations[r], rows.keys[t]) for h, r, t in rows.triples.tolist()}
    assert named == {(t.head, t.relation, t.tail) for t in stored} == triples
    assert len(rows.triples) == len(triples)
    # relations numbered in key order: the rows come sorted by (head, relation, tail)
    assert rows.triples.tolist() == sorted(rows.triples.tolist())


def test_a_triple_naming_no_entity_is_refused(store: StateStore) -> None:
    _graph(store, ["a", "b"], [("a", "r", "b")])
    with store.transaction() as tx:
        tx.graph.add_triple("A", "a", "r", "ghost")  # no entity row: not an engine's store
    with store.transaction() as tx, pytest.raises(CorruptValueError):
        tx.graph.read_all("A")


def test_embeddings_read_at_once_split_by_model_version(store: StateStore) -> None:
    vectors = np.arange(24, dtype=np.float32).reshape(6, 4)
    with store.transaction() as tx:
        for i, key in enumerate(["e", "a", "ü", "c", "d", "b"]):
            version = "m1" if i != 2 else "m0"
            tx.embeddings.put("A", key, vectors[i] if version == "m1" else vectors[i, :2],
                              version)
            if key != "d":
                tx.embeddings.bind_faiss_id("A", key, 100 + i)
    with store.transaction() as tx:
        rows = tx.embeddings.read_all("A", "m1")
        one_by_one = list(tx.embeddings.all_with_ids("A"))
    assert rows.keys == [key for key, *_ in one_by_one]
    assert rows.faiss_ids.tolist() == [-1 if fid is None else fid for *_, fid in one_by_one]
    assert rows.current.tolist() == [e.model_version == "m1" for _, e, _ in one_by_one]
    assert np.array_equal(rows.vectors, np.stack([e.vector for _, e, _ in one_by_one
                                                  if e.model_version == "m1"]))


def test_list_and_pair_blocks_equal_their_rows(store: StateStore) -> None:
    ids = np.array([[5, 3, -1], [-1, -1, -1], [7, -1, -1]])
    scores = np.array([[0.5, 0.25, 0.0], [0.0, 0.0, 0.0], [0.75, 0.0, 0.0]], dtype=np.float32)
    cells = np.array([[1, 2, 3], [4, 5, 6], [7, -1, 8]])
    with store.transaction() as tx:
        tx.candidates.put_lists("A", ["k", "ключ", "a"], np.array([0.1, 0.2, -np.inf]), ids,
                                scores, cells)
        tx.candidates.put_pair_rows(["l", "m"], np.array([0, 2, 3]), np.array([9, 8, 4]),
                                    np.array([0.5, 0.25, 0.125], dtype=np.float32))
    with store.transaction() as tx:
        block = tx.candidates.list_block("A")
        pairs = tx.candidates.pair_block()
    assert block.keys == ["a", "k"]  # the row with no member was deleted
    assert block.bounds.tolist() == [-np.inf, 0.1]
    assert block.lengths.tolist() == [1, 2] and block.ids.tolist() == [7, 5, 3]
    assert block.scores.tolist() == [0.75, 0.5, 0.25]
    assert block.cells.tolist() == [[7, -1, 8], [1, 2, 3]]
    assert pairs.keys == ["l", "m"] and pairs.lengths.tolist() == [2, 1]
    assert pairs.rights.tolist() == [9, 8, 4] and pairs.scores.tolist() == [0.5, 0.25, 0.125]


def test_pair_rows_of_very_different_lengths_read_back_exactly(store: StateStore) -> None:
    """A hub's long row among short ones (rows are read in groups of similar length)."""
    lengths = [1, 300, 2, 0, 17, 64, 65]
    rights = np.arange(sum(lengths)) * 3
    scores = (np.arange(sum(lengths)) / 7).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    keys = [f"left{i}" for i in range(len(lengths))]
    with store.transaction() as tx:
        tx.candidates.put_pair_rows(keys, offsets, rights, scores)
    with store.transaction() as tx:
        block = tx.candidates.pair_block()
        rows = list(tx.candidates.pairs())
    assert block.keys == [k for k, n in zip(keys, lengths, strict=True) if n]
    assert block.lengths.tolist() == [n for n in lengths if n]
    assert np.array_equal(block.rights, rights) and np.array_equal(block.scores, scores)
    assert [len(r) for _, r, _ in rows] == [n for n in lengths if n]


def test_components_sharing_a_hash_are_still_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """``numbered`` checks its hash: with every hash equal it falls back to sorting."""
    from stream_align.store import blocks

    parts = [b"\x00\x01a", b"\x00\x02ab", b"\x00\x01a", b"\x00\x01\x00", b"\x00\x02ab"]
    buf, starts, lengths = blocks.joined(parts)
    want = blocks.numbered(buf, starts, lengths, {})
    monkeypatch.setattr(blocks, "_MIX", np.zeros_like(blocks._MIX))
    known: dict[bytes, int] = {}
    assert blocks.numbered(buf, starts, lengths, known).tolist() == want.tolist() == \
        [0, 1, 0, 2, 1]
    assert known == {b"\x00\x01a": 0, b"\x00\x02ab": 1, b"\x00\x01\x00": 2}


def test_embeddings_read_in_chunks_equal_one_read(store: StateStore,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows decoded a chunk at a time (a chunk may hold no vector of the version asked for)
    give the same matrix as one pass."""
    from stream_align.store import embedding_store

    vectors = np.arange(40, dtype=np.float32).reshape(10, 4)
    with store.transaction() as tx:
        for i in range(10):
            version = "old" if i in (2, 3, 4) else "m1"
            tx.embeddings.put("A", f"e{i}", vectors[i], version)
            tx.embeddings.bind_faiss_id("A", f"e{i}", i)
    with store.transaction() as tx:
        whole = tx.embeddings.read_all("A", "m1")
    monkeypatch.setattr(embedding_store, "CHUNK", 2)
    with store.transaction() as tx:
        chunked = tx.embeddings.read_all("A", "m1")
    for rows in (whole, chunked):
        assert rows.current.tolist() == [i not in (2, 3, 4) for i in range(10)]
        assert np.array_equal(rows.vectors, vectors[rows.current])
        assert rows.faiss_ids.tolist() == list(range(10))


def test_equal_to_finds_exactly_the_segments_holding_the_value() -> None:
    """Versions that share a prefix, are one byte longer or shorter, or hold a NUL are not
    the one asked for (``equal_to``: the embeddings' model version, decision 0132)."""
    values = [b"\x00\x02v1", b"\x00\x03v1x", b"\x00\x02v2", b"\x00\x01v", b"", b"\x00\x02v1",
              b"\x00\x02v\x00"]
    buf, starts, lengths = blocks.joined(values)
    got = blocks.equal_to(buf, starts, lengths, b"\x00\x02v1")
    assert got.tolist() == [True, False, False, False, False, True, False]
    assert not blocks.equal_to(buf, starts[:0], lengths[:0], b"\x00\x02v1").size
