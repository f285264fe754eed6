"""In-memory mirror of one graph that changes: entity key → index, features, adjacency sets.

The model computes on the static :class:`Graph`; the engine keeps this mutable mirror instead and
cuts small ``Graph`` views out of it (:meth:`MutableGraph.local_graph`). Indices are private to
one process: a deleted entity keeps its slot (and gets it back if re-upserted), a restored mirror
numbers entities in key order. Nothing the model computes depends on an index — features and
samples are functions of keys, attributes and edges — so a restored mirror computes the same
embeddings as the live one.

An edge is kept as one packed int per endpoint (``relation << 32 | other node``) in two
:class:`~stream_align.engine.edge_table.EdgeTable` (out and in): 16 bytes an edge end in sorted
arrays, where a Python set per node and direction cost ≈ 670 bytes an entity (decision 0039).
Keys, names and types are columns of arrays too (decision 0069): an entity is a row, not an
object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from stream_align import setops
from stream_align.arrays import grown
from stream_align.engine.edge_table import EdgeTable
from stream_align.engine.neighbourhood import Edge
from stream_align.engine.packed import LOW
from stream_align.engine.progress import Progress, no_progress
from stream_align.engine.state_source import StateSource
from stream_align.engine.string_table import KeyIndex, StringColumn
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


def _numbered(index: dict[str, int], names: list[str], name: str) -> int:
    """``name``'s number in ``names`` (appended, and numbered, the first time it is seen)."""
    number = index.get(name)
    if number is None:
        number = index[name] = len(names)
        names.append(name)
    return number


class MutableGraph:
    """One graph: ``label`` is the model's side ("A"/"B"), ``graph_id`` the store's id.

    Keys and names live in :class:`StringColumn` pools and the key index in numpy arrays
    (``string_table``), types as numbers into a short list, attributes besides the name in a
    dict of the nodes that have any: no Python object per entity (decision 0069).
    :meth:`entity` builds an :class:`Entity` on demand; :meth:`stamps` tell an entity's
    versions apart (a new stamp on every upsert and delete, as a new ``Entity`` object was)."""

    def __init__(self, label: str, graph_id: str) -> None:
        self.label, self.graph_id = label, graph_id
        self.keys = StringColumn()
        self.index = KeyIndex(self.keys)
        self.names = StringColumn()  # "" for a deleted entity
        self._type = np.zeros(0, dtype=np.int32)  # into ``_types``
        self._types: list[str] = [""]
        self._type_index: dict[str, int] = {"": 0}
        self._alive = np.zeros(0, dtype=bool)  # False: deleted (the slot is kept)
        self._stamp = np.zeros(0, dtype=np.int64)
        self._stamps = 0  # the last stamp given
        self._attributes: dict[int, dict[str, str]] = {}  # nodes with more than a name
        self.relations: list[str] = []
        self._relation_index: dict[str, int] = {}
        self.out = EdgeTable()  # head → relation << 32 | tail
        self.inn = EdgeTable()  # tail → relation << 32 | head
        self.triple_count = 0  # kept here: ``len(EdgeTable)`` merges its recent changes

    # entities

    def alive(self, key: str) -> bool:
        i = self.index.get(key)
        return i is not None and bool(self._alive[i])

    def is_alive(self, i: int) -> bool:
        return bool(self._alive[i])

    def alive_mask(self, nodes: np.ndarray) -> np.ndarray:
        """``is_alive`` of each of ``nodes``, as a boolean array."""
        return self._alive[nodes]

    def is_named(self, i: int) -> bool:
        return bool(self._alive[i]) and bool(self.names.size(i))

    def named_mask(self, nodes: np.ndarray) -> np.ndarray:
        """``is_named`` of each of ``nodes``, as a boolean array."""
        return self._alive[nodes] & (self.names.sizes(nodes) > 0)

    def unnamed_mask(self, nodes: np.ndarray) -> np.ndarray:
        """Alive and without a name, for each of ``nodes`` (``is_named``'s complement among
        the live)."""
        return self._alive[nodes] & (self.names.sizes(nodes) == 0)

    def alive_indices(self) -> list[int]:
        return np.flatnonzero(self._alive[:len(self.keys)]).tolist()

    def entity(self, i: int) -> Entity | None:
        """Node ``i``'s name, type and attributes (None: deleted), built on demand."""
        if not self._alive[i]:
            return None
        return Entity(self.names[i], self._types[self._type[i]],
                      self._attributes.get(i, _NO_ATTRIBUTES))

    def stamps(self, nodes: np.ndarray) -> np.ndarray:
        """Each node's version: it changes on every upsert and delete of the entity."""
        return self._stamp[nodes]

    def _type_id(self, entity_type: str) -> int:
        return _numbered(self._type_index, self._types, entity_type)

    def _fit(self, size: int) -> None:
        self._type = grown(self._type, size, 0)
        self._alive = grown(self._alive, size, False)
        self._stamp = grown(self._stamp, size, 0)

    def upsert(self, key: str, entity_type: str, attributes: Mapping[str, str]) -> int:
        """Create or replace an entity; return its index."""
        attrs = dict(attributes)
        name = attrs.pop(NAME, "")
        i = self.index.get(key)
        if i is None:
            i = self.keys.append(key)
            self.index.add(key, i)
            self.names.append(name)
            self._fit(i + 1)
        else:
            self.names.set(i, name)
        self._type[i] = self._type_id(entity_type)
        self._alive[i] = True
        self._stamps += 1
        self._stamp[i] = self._stamps
        if attrs:
            self._attributes[i] = attrs
        else:
            self._attributes.pop(i, None)
        return i

    def load_entities(self, keys: list[str], types: list[str],
                      attributes: list[dict[str, str]]) -> None:
        """``upsert`` of each distinct key into an empty mirror, numbered in order (restore:
        whole columns at once, not a call per entity)."""
        assert not len(self.keys), "load_entities fills an empty mirror"
        if len(set(keys)) != len(keys):
            raise ValueError(f"graph {self.graph_id}: an entity key given twice")
        n = len(keys)
        self.keys.extend(keys)
        self.index.load(keys)
        self.names.extend([attrs.get(NAME, "") for attrs in attributes])
        self._fit(n)
        self._type[:n] = np.fromiter((self._type_id(kind) for kind in types), dtype=np.int32,
                                     count=n)
        self._alive[:n] = True
        self._stamp[:n] = np.arange(self._stamps + 1, self._stamps + 1 + n)
        self._stamps += n
        self._attributes = {i: {k: v for k, v in attrs.items() if k != NAME}
                            for i, attrs in enumerate(attributes)
                            if len(attrs) > (NAME in attrs)}  # more than a name

    def delete(self, key: str) -> list[tuple[int, int, int]]:
        """Delete an entity and its triples; return the removed ``(head, relation, tail)``."""
        i = self.index[key]
        removed = self.edges(i)
        for h, r, t in removed:
            self.remove_triple(h, r, t)
        self._alive[i] = False
        self.names.set(i, "")
        self._type[i] = 0
        self._attributes.pop(i, None)
        self._stamps += 1
        self._stamp[i] = self._stamps
        return removed

    # triples

    def relation_id(self, relation: str) -> int:
        return _numbered(self._relation_index, self.relations, relation)

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

    def add_triples(self, heads: list[int], relations: list[int], tails: list[int]
                    ) -> list[bool]:
        """``add_triple`` of each ``(heads[i], relations[i], tails[i])`` in order, inside
        ``held_merges``; which were added (the others were there already)."""
        added = self.out.add_new(heads, [r << 32 | t for r, t in zip(relations, tails,
                                                                     strict=True)])
        new = [i for i, was in enumerate(added) if was]
        self.inn.add_all([tails[i] for i in new], [relations[i] << 32 | heads[i] for i in new])
        self.triple_count += len(new)
        return added

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
        # a restore's rows come by (head, relation, tail): stable by (tail, relation), they
        # are the in-table's (tail, relation, head) order, one key sorted where ``load``
        # sorts two (other orders are sorted there, as before)
        order = np.argsort(t << 32 | r, kind="stable")
        self.inn.load(t[order], (r << 32 | h)[order])
        self.triple_count = len(self.out)

    def edges(self, node: int) -> list[tuple[int, int, int]]:
        """``(head, relation, tail)`` of every triple at ``node``."""
        return ([(node, p >> 32, p & LOW) for p in self.out.ends(node)]
                + [(p & LOW, p >> 32, node) for p in self.inn.ends(node)])

    def own_edges(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                     np.ndarray]:
        """Every edge of each of ``nodes`` as rows ``(i, other end, relation, out)``:
        ``nodes[i]``'s out-edges (``out``: it is the head) by ``(relation, tail)``, then all
        in-edges by ``(head, relation)`` — each node's edges in the order of its ascending
        ``(head, relation, tail)`` triples, out-edges first, as ``directed_edges`` lists them
        for a local graph. The neighbours' own edges are not read."""
        nodes = np.asarray(nodes, dtype=np.int64)
        at, ends = self.out.ends_of(nodes)
        if not _ascending(at, ends):  # unmerged changes come unordered
            order = np.lexsort((ends, at))
            at, ends = at[order], ends[order]
        at_in, ends_in = self.inn.ends_of(nodes)
        heads, relations_in = ends_in & LOW, ends_in >> 32
        order_in = np.lexsort((heads << 32 | relations_in, at_in))  # (node, head, relation)
        return (np.concatenate([at, at_in[order_in]]),
                np.concatenate([ends & LOW, heads[order_in]]),
                np.concatenate([ends >> 32, relations_in[order_in]]),
                np.arange(len(at) + len(at_in)) < len(at))

    # views

    def local_graph(self, first: Sequence[int], triples: np.ndarray, texts: bool = True
                    ) -> tuple[Graph, np.ndarray]:
        """A ``Graph`` over ``first`` (rows ``0..len(first)-1``) and every endpoint of ``triples``.

        Returns the graph and ``int64`` global index per local row. ``texts=False``: keys and
        names left empty (``""``) and no attributes — for readers of types and edges alone
        (samples), which need not decode a string per row.
        """
        ends = setops.unique(triples[:, [0, 2]]) if len(triples) else np.zeros(0, dtype=np.int64)
        head = np.asarray(first, dtype=np.int64)
        nodes = np.concatenate([head, setops.setdiff1d(ends, head)])
        order = np.argsort(nodes)  # local row of a node: a search, not a map over the graph
        ranked = nodes[order]
        listed = nodes.tolist()
        attributes = self._attributes
        local = triples.copy()
        if len(local):
            local[:, 0] = order[np.searchsorted(ranked, triples[:, 0])]
            local[:, 2] = order[np.searchsorted(ranked, triples[:, 2])]
        types = self._types
        blank = [""] * len(listed)
        graph = Graph(label=self.label, keys=self.keys.take(nodes) if texts else blank,
                      names=self.names.take(nodes) if texts else blank,
                      types=[types[t] for t in self._type[nodes].tolist()],
                      attributes=[attributes.get(i, _NO_ATTRIBUTES) for i in listed] if texts
                      else [_NO_ATTRIBUTES] * len(listed), relations=self.relations, triples=local)
        return graph, nodes


def _ascending(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether the pairs ``(first[i], second[i])`` ascend strictly (a merged table's reads do:
    no sort needed)."""
    return bool(((first[1:] > first[:-1])
                 | ((first[1:] == first[:-1]) & (second[1:] > second[:-1]))).all())


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
