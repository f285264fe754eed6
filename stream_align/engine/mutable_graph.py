"""In-memory mirror of one graph that changes: entity key → index, features, adjacency sets.

The model computes on the static :class:`Graph`; the engine keeps this mutable mirror instead and
cuts small ``Graph`` views out of it (:meth:`MutableGraph.local_graph`). Indices are private to
one process: a deleted entity keeps its slot (and gets it back if re-upserted), a restored mirror
numbers entities in key order. Nothing the model computes depends on an index — features and
samples are functions of keys, attributes and edges — so a restored mirror computes the same
embeddings as the live one.

An edge is kept as one packed int per endpoint (``relation << 32 | other node``) in two
:class:`~stream_align.engine.edge_table.EdgeTable` (out and in): 16 bytes an edge end in sorted
arrays, where a Python set per node and direction cost ≈ 670 bytes an entity (decision 0039);
entities are slotted dataclasses (no per-instance ``__dict__``) sharing one empty attribute
dict when they have no attributes besides the name.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from stream_align import setops
from stream_align.engine.edge_table import EdgeTable
from stream_align.engine.neighbourhood import Edge
from stream_align.engine.packed import LOW
from stream_align.engine.progress import Progress, no_progress
from stream_align.engine.state_source import StateSource
from stream_align.graph import Graph

NAME = "name"
"""The attribute that holds an entity's name (as ``eval.replay`` publishes it)."""


_NO_ATTRIBUTES: dict[str, str] = {}  # shared by every entity with only a name (never mutated)


@dataclass(slots=True)
class Entity:
    """What the model reads of an entity (besides its edges)."""

    name: str = ""
    type: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


class MutableGraph:
    """One graph: ``label`` is the model's side ("A"/"B"), ``graph_id`` the store's id."""

    def __init__(self, label: str, graph_id: str) -> None:
        self.label, self.graph_id = label, graph_id
        self.keys: list[str] = []
        self.index: dict[str, int] = {}
        self.entities: list[Entity | None] = []  # None: deleted (the slot is kept)
        self.relations: list[str] = []
        self._relation_index: dict[str, int] = {}
        self.out = EdgeTable()  # head → relation << 32 | tail
        self.inn = EdgeTable()  # tail → relation << 32 | head
        self.triple_count = 0  # kept here: ``len(EdgeTable)`` merges its recent changes

    # entities

    def alive(self, key: str) -> bool:
        i = self.index.get(key)
        return i is not None and self.entities[i] is not None

    def is_alive(self, i: int) -> bool:
        return self.entities[i] is not None

    def is_named(self, i: int) -> bool:
        entity = self.entities[i]
        return entity is not None and bool(entity.name)

    def alive_indices(self) -> list[int]:
        return [i for i, entity in enumerate(self.entities) if entity is not None]

    def upsert(self, key: str, entity_type: str, attributes: Mapping[str, str]) -> int:
        """Create or replace an entity; return its index."""
        attrs = dict(attributes)
        entity = Entity(name=attrs.pop(NAME, ""), type=sys.intern(entity_type),
                        attributes=attrs or _NO_ATTRIBUTES)  # a few types: one string each
        i = self.index.get(key)
        if i is None:
            i = len(self.keys)
            self.index[key] = i
            self.keys.append(key)
            self.entities.append(entity)
        else:
            self.entities[i] = entity
        return i

    def load_entities(self, keys: list[str], types: list[str],
                      attributes: list[dict[str, str]]) -> None:
        """``upsert`` of each distinct key into an empty mirror, numbered in order (restore:
        one comprehension, not a call per entity); ``attributes`` are taken over."""
        assert not self.keys, "load_entities fills an empty mirror"
        intern = sys.intern
        self.index = {key: i for i, key in enumerate(keys)}
        if len(self.index) != len(keys):
            raise ValueError(f"graph {self.graph_id}: an entity key given twice")
        self.keys = list(keys)
        self.entities = [Entity(name=attrs.pop(NAME, ""), type=intern(kind),
                                attributes=attrs or _NO_ATTRIBUTES)
                         for kind, attrs in zip(types, attributes, strict=True)]

    def delete(self, key: str) -> list[tuple[int, int, int]]:
        """Delete an entity and its triples; return the removed ``(head, relation, tail)``."""
        i = self.index[key]
        removed = self.edges(i)
        for h, r, t in removed:
            self.remove_triple(h, r, t)
        self.entities[i] = None
        return removed

    # triples

    def relation_id(self, relation: str) -> int:
        r = self._relation_index.get(relation)
        if r is None:
            r = self._relation_index[relation] = len(self.relations)
            self.relations.append(relation)
        return r

    @contextmanager
    def held_merges(self) -> Iterator[None]:
        """Edge changes inside the block merge into the sorted arrays once, at its end
        (``EdgeTable.held_merges``)."""
        with self.out.held_merges(), self.inn.held_merges():
            yield

    def has_triple(self, h: int, r: int, t: int) -> bool:
        return self.out.has(h, r << 32 | t)

    def add_triple(self, h: int, r: int, t: int) -> bool:
        """Add; False if it was already there (a re-delivered ADD is a no-op)."""
        if self.out.has(h, r << 32 | t):
            return False
        self.out.add(h, r << 32 | t)
        self.inn.add(t, r << 32 | h)
        self.triple_count += 1
        return True

    def remove_triple(self, h: int, r: int, t: int) -> bool:
        if not self.out.has(h, r << 32 | t):
            return False
        self.out.discard(h, r << 32 | t)
        self.inn.discard(t, r << 32 | h)
        self.triple_count -= 1
        return True

    def load_triples(self, triples: np.ndarray) -> None:
        """Set every ``(head, relation, tail)`` of an edgeless mirror at once (restore)."""
        h, r, t = triples[:, 0], triples[:, 1], triples[:, 2]
        self.out.load(h, r << 32 | t)
        self.inn.load(t, r << 32 | h)
        self.triple_count = len(self.out)

    def edges(self, node: int) -> list[tuple[int, int, int]]:
        """``(head, relation, tail)`` of every triple at ``node``."""
        return ([(node, p >> 32, p & LOW) for p in self.out.ends(node)]
                + [(p & LOW, p >> 32, node) for p in self.inn.ends(node)])

    def incident(self, nodes: Iterable[int]) -> np.ndarray:
        """``int64 (m, 3)`` unique ``(head, relation, tail)`` rows touching any of ``nodes``,
        in ascending order."""
        nodes = np.fromiter(nodes, dtype=np.int64)
        at, ends = self.out.ends_of(nodes)
        out = np.stack([nodes[at], ends >> 32, ends & LOW], axis=1)
        at, ends = self.inn.ends_of(nodes)
        inn = np.stack([ends & LOW, ends >> 32, nodes[at]], axis=1)
        rows = np.concatenate([out, inn])
        return setops.unique_rows(rows) if len(rows) else np.zeros((0, 3), dtype=np.int64)

    # views

    def local_graph(self, first: Sequence[int], triples: np.ndarray) -> tuple[Graph, np.ndarray]:
        """A ``Graph`` over ``first`` (rows ``0..len(first)-1``) and every endpoint of ``triples``.

        Returns the graph and ``int64`` global index per local row.
        """
        ends = setops.unique(triples[:, [0, 2]]) if len(triples) else np.zeros(0, dtype=np.int64)
        head = np.asarray(first, dtype=np.int64)
        nodes = np.concatenate([head, setops.setdiff1d(ends, head)])
        order = np.argsort(nodes)  # local row of a node: a search, not a map over the graph
        ranked = nodes[order]
        entities = [self.entities[i] or Entity() for i in nodes.tolist()]
        local = triples.copy()
        if len(local):
            local[:, 0] = order[np.searchsorted(ranked, triples[:, 0])]
            local[:, 2] = order[np.searchsorted(ranked, triples[:, 2])]
        graph = Graph(label=self.label, keys=[self.keys[i] for i in nodes.tolist()],
                      names=[e.name for e in entities], types=[e.type for e in entities],
                      attributes=[e.attributes for e in entities], relations=self.relations,
                      triples=local)
        return graph, nodes


def mirror_from(source: StateSource, label: str, graph_id: str,
                progress: Progress = no_progress) -> MutableGraph:
    """Rebuild the mirror of one graph from stored state, numbered as the source numbers it
    (entities in key order; triples as numbered rows, no lookup per triple: decision 0067)."""
    graph = MutableGraph(label, graph_id)
    progress(f"restore {label}: entities", 0, 1)  # and the triples' keys, read with them
    rows = source.graph(graph_id)
    graph.load_entities(rows.keys, rows.types, rows.attributes)
    progress(f"restore {label}: triples", 0, 1)
    relation = np.array([graph.relation_id(name) for name in rows.relations], dtype=np.int64)
    triples = np.asarray(rows.triples, dtype=np.int64).reshape(-1, 3)
    if len(triples):
        triples = np.stack([triples[:, 0], relation[triples[:, 1]], triples[:, 2]], axis=1)
    graph.load_triples(triples)
    return graph


class Adjacency:
    """A mirror's adjacency as ``neighbourhood`` reads it: each node's edges, degree and
    relation groups, from the packed edge tables without copying them."""

    def __init__(self, graph: MutableGraph) -> None:
        self.graph = graph

    def __call__(self, node: int) -> Sequence[Edge]:
        g = self.graph
        return ([(p & LOW, p >> 32, 1) for p in g.out.ends(node)]
                + [(p & LOW, p >> 32, -1) for p in g.inn.ends(node)])

    def degree(self, node: int) -> int:
        return self.graph.out.count(node) + self.graph.inn.count(node)

    def group(self, node: int, relation: int, direction: int) -> list[int]:
        table = self.graph.out if direction == 1 else self.graph.inn
        return [p & LOW for p in table.between(node, relation << 32, (relation + 1) << 32)]

    def group_size(self, node: int, relation: int, direction: int) -> int:
        table = self.graph.out if direction == 1 else self.graph.inn
        return table.count_between(node, relation << 32, (relation + 1) << 32)
