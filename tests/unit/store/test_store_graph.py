"""Graph store: entities, triples in both directions, degree counters, cascading deletes."""

from contextlib import nullcontext

import pytest
from store_helpers import assert_graph_consistent

from stream_align.store import Degree, Edge, StateStore, Triple, UnknownGraphError
from stream_align.store.errors import InvalidValueError


def test_triples_are_mirrored_in_forward_and_reverse_adjacency(store: StateStore) -> None:
    with store.transaction() as tx:
        assert tx.graph.add_triple("A", "film", "director", "kurosawa")
        assert tx.graph.add_triple("A", "film", "actor", "nakadai")
        assert tx.graph.add_triple("A", "other", "director", "kurosawa")
        assert not tx.graph.add_triple("A", "film", "actor", "nakadai")
    with store.transaction() as tx:
        assert list(tx.graph.out_edges("A", "film")) == [
            Edge("actor", "nakadai"),
            Edge("director", "kurosawa"),
        ]
        assert set(tx.graph.in_edges("A", "kurosawa")) == {
            Edge("director", "film"),
            Edge("director", "other"),
        }
        assert tx.graph.degree("A", "kurosawa") == Degree(0, 2)
        assert tx.graph.degree("A", "film").total == 2
        assert_graph_consistent(tx, "A")


def test_remove_reports_missing_triples_and_keeps_mirrors_consistent(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.graph.add_triple("A", "h", "r", "t")
        tx.graph.add_triple("A", "h", "r2", "t")
    with store.transaction() as tx:
        assert not tx.graph.remove_triple("A", "h", "r", "missing")
        assert tx.graph.remove_triple("A", "h", "r", "t")
        assert not tx.graph.has_triple("A", "h", "r", "t")
        assert tx.graph.has_triple("A", "h", "r2", "t")
        assert tx.graph.degree("A", "t") == Degree(0, 1)
        assert_graph_consistent(tx, "A")


def test_graphs_are_separate_key_spaces(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.graph.add_triple("A", "x", "r", "y")
        assert not tx.graph.has_triple("B", "x", "r", "y")
        assert list(tx.graph.out_edges("B", "x")) == []
        assert tx.graph.degree("B", "x") == Degree(0, 0)


def test_neighbour_prefix_does_not_leak_into_longer_ids(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.graph.add_triple("A", "e", "r", "t1")
        tx.graph.add_triple("A", "e1", "r", "t2")
        tx.graph.add_triple("A", "e\x00", "r", "t3")
        assert list(tx.graph.out_edges("A", "e")) == [Edge("r", "t1")]


def test_entities_upsert_replace_and_list(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.graph.upsert_entity("A", "e1", "film", {"name": "Ran", "year": "1985"})
        tx.graph.upsert_entity("A", "e2", "person", {"name": "Kurosawa"})
        tx.graph.upsert_entity("A", "e1", "film", {"name": "Ran (1985)"})
    with store.transaction() as tx:
        entity = tx.graph.entity("A", "e1")
        assert entity is not None and entity.attributes == {"name": "Ran (1985)"}
        assert [e.id for e in tx.graph.entities("A")] == ["e1", "e2"]
        assert tx.graph.entity("B", "e1") is None
        assert not tx.graph.has_entity("A", "e3")


def test_delete_entity_removes_its_triples_including_self_loops(store: StateStore) -> None:
    with store.transaction() as tx:
        tx.graph.upsert_entity("A", "x", "t", {"name": "x"})
        for triple in [("x", "r", "y"), ("z", "r", "x"), ("x", "self", "x"), ("y", "r", "z")]:
            tx.graph.add_triple("A", *triple)
    with store.transaction() as tx:
        removed = tx.graph.delete_entity("A", "x")
        assert sorted(removed) == sorted(
            [Triple("A", "x", "r", "y"), Triple("A", "z", "r", "x"), Triple("A", "x", "self", "x")]
        )
        assert not tx.graph.has_entity("A", "x")
        assert list(tx.graph.triples("A")) == [Triple("A", "y", "r", "z")]
        assert tx.graph.degree("A", "x") == Degree(0, 0)
        assert_graph_consistent(tx, "A")


def test_unknown_graph_ids_are_rejected(store: StateStore) -> None:
    with store.transaction() as tx, pytest.raises(UnknownGraphError):
        tx.graph.add_triple("C", "h", "r", "t")


def test_summed_degrees_equal_one_move_per_triple(store: StateStore) -> None:
    """Counters moved once per entity at the block's end equal counters moved per triple,
    reads inside the block included; a block that raises moves nothing."""
    edits = [("add", "h", "r", "t"), ("add", "h", "r2", "t"), ("add", "t", "r", "u"),
             ("remove", "h", "r", "t"), ("add", "u", "r", "h"), ("remove", "t", "r", "u")]
    with store.transaction() as tx:
        tx.graph.add_triple("A", "t", "r0", "h")
    with store.transaction() as tx:
        with tx.graph.summed_degrees():
            for op, h, r, t in edits:
                (tx.graph.add_triple if op == "add" else tx.graph.remove_triple)("A", h, r, t)
            assert tx.graph.degree("A", "h") == Degree(1, 2)
        summed = {k: tx.graph.degree("A", k) for k in "htu"}
        assert_graph_consistent(tx, "A")
    with store.transaction() as tx:
        with pytest.raises(RuntimeError), tx.graph.summed_degrees():
            tx.graph.add_triple("A", "u", "r9", "t")
            raise RuntimeError("refused")
        assert tx.graph.degree("A", "u") == summed["u"]
        tx.rollback()
    assert summed == {"h": Degree(1, 2), "t": Degree(1, 1), "u": Degree(1, 0)}


def test_add_triples_equals_adding_one_by_one(store: StateStore) -> None:
    """Stored, pending, removed and repeated triples: the same rows and counters as a loop of
    ``add_triple``; a key that cannot be built writes nothing."""
    batch = [("h", "r", "t"), ("h", "r", "t"), ("t", "r", "u"), ("h", "r0", "t"), ("u", "r", "h"),
             ("x", "r", "x")]
    for summed in (False, True):
        graphs = []
        for bulk in (False, True):
            with store.transaction() as tx:
                tx.graph.add_triple("A", "h", "r0", "t")  # stored
                tx.graph.add_triple("A", "t", "r", "u")
            with store.transaction() as tx:
                tx.graph.remove_triple("A", "t", "r", "u")  # a pending delete
                tx.graph.add_triple("A", "u", "r", "h")  # a pending add
                with tx.graph.summed_degrees() if summed else nullcontext():
                    if bulk:
                        tx.graph.add_triples("A", batch)
                    else:
                        for triple in batch:
                            tx.graph.add_triple("A", *triple)
                assert_graph_consistent(tx, "A")
                graphs.append(({k: tx.graph.degree("A", k) for k in "htux"},
                               sorted(tx.graph.triples("A"))))
                for h, r, t in [*batch, ("h", "r0", "t")]:
                    if tx.graph.has_triple("A", h, r, t):
                        tx.graph.remove_triple("A", h, r, t)
        assert graphs[0] == graphs[1]
    with store.transaction() as tx:
        with pytest.raises(InvalidValueError):
            tx.graph.add_triples("A", [("a", "r", "b"), ("a", "r", "\ud800")])
        assert not tx.graph.has_triple("A", "a", "r", "b")
