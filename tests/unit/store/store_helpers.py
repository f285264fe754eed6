"""Checks shared by the store tests: graph invariants that must hold after any history."""

from collections import Counter

from stream_align.store import Degree, Transaction
from stream_align.store.keys import Table, pack


def assert_graph_consistent(tx: Transaction, graph: str) -> None:
    """Forward and reverse adjacency mirror each other and the degree counters match them."""
    triples = set(tx.graph.triples(graph))
    heads = Counter(t.head for t in triples)
    tails = Counter(t.tail for t in triples)
    endpoints = set(heads) | set(tails)
    for entity in endpoints:
        out = {(graph, entity, r, t) for r, t in tx.graph.out_edges(graph, entity)}
        inc = {(graph, h, r, entity) for r, h in tx.graph.in_edges(graph, entity)}
        assert out == {t for t in triples if t.head == entity}
        assert inc == {t for t in triples if t.tail == entity}
        assert tx.graph.degree(graph, entity) == Degree(heads[entity], tails[entity])
    prefix = pack(graph)
    reverse_rows = sum(1 for key, _ in tx.rows(Table.REVERSE) if key.startswith(prefix))
    degree_rows = sum(1 for key, _ in tx.rows(Table.DEGREE) if key.startswith(prefix))
    assert reverse_rows == len(triples)
    assert degree_rows == len(endpoints)
