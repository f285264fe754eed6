"""Checks shared by the store tests: graph invariants that must hold after any history."""

from collections import defaultdict

from stream_align.store import Degree, Edge, Transaction
from stream_align.store.keys import Table, pack


def assert_graph_consistent(tx: Transaction, graph: str) -> None:
    """Forward and reverse adjacency mirror each other and the degree counters match them."""
    out: defaultdict[str, set[Edge]] = defaultdict(set)
    inc: defaultdict[str, set[Edge]] = defaultdict(set)
    for _, head, relation, tail in tx.graph.triples(graph):
        out[head].add(Edge(relation, tail))
        inc[tail].add(Edge(relation, head))
    endpoints = set(out) | set(inc)
    for entity in endpoints:
        assert set(tx.graph.out_edges(graph, entity)) == out[entity]
        assert set(tx.graph.in_edges(graph, entity)) == inc[entity]
        assert tx.graph.degree(graph, entity) == Degree(len(out[entity]), len(inc[entity]))
    prefix = pack(graph)
    reverse_rows = sum(1 for key, _ in tx.rows(Table.REVERSE) if key.startswith(prefix))
    degree_rows = sum(1 for key, _ in tx.rows(Table.DEGREE) if key.startswith(prefix))
    assert reverse_rows == sum(len(edges) for edges in out.values())
    assert degree_rows == len(endpoints)
