"""A dataset as the stream a producer team would publish: entity upserts, then triples, then labels.

Pure (no Kafka): ``stream-align replay`` publishes these events, and tests and batch mode can
drive the engine with them directly. Event ids are derived from the content (dataset, graph,
op, head, relation, tail), so replaying the same dataset twice yields the same ids and consumers
deduplicate them. An entity is always upserted before the first triple that names it: the
service treats a triple with an unknown endpoint as bad input.

Orders:
- ``file``: graph A's entities and triples in file order, then graph B's.
- ``shuffle``: all upserts of both graphs shuffled (seeded), then all triples shuffled.
- ``snapshots`` (ContEA): the base snapshot in file order, then each batch — its new entities,
  then its triples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from stream_align.eval.replay_order import ReplayOrder
from stream_align.events.contracts import Label, LabelValue, TripleChange
from stream_align.graph import Graph, GraphPair


@dataclass(frozen=True)
class ReplayCounts:
    """How many events of each kind a replay plan holds (checked against the dataset)."""

    entities: int
    triples: int
    labels: int


def _upsert(pair: GraphPair, graph: Graph, index: int) -> TripleChange:
    attributes = dict(graph.attributes[index])
    if graph.names[index]:
        attributes["name"] = graph.names[index]
    return TripleChange.upsert_entity(
        graph.label, graph.keys[index], entity_type=graph.types[index] or None,
        attributes=attributes, id_from=(pair.name, graph.label, "upsert", graph.keys[index]),
    )


def _triple(pair: GraphPair, graph: Graph, row: np.ndarray) -> TripleChange:
    head, relation, tail = graph.keys[row[0]], graph.relations[row[1]], graph.keys[row[2]]
    return TripleChange.add_triple(
        graph.label, head, relation, tail,
        id_from=(pair.name, graph.label, "add", head, relation, tail),
    )


def _first_seen(graph: Graph, blocks: list[np.ndarray]) -> list[np.ndarray]:
    """Per block of triples, the entities (in first-appearance order) no earlier block named."""
    seen = np.zeros(graph.num_entities, dtype=bool)
    out = []
    for block in blocks:
        ends = block[:, [0, 2]].reshape(-1) if len(block) else np.zeros(0, dtype=np.int64)
        unique, first = np.unique(ends, return_index=True)
        fresh = unique[np.argsort(first)]
        fresh = fresh[~seen[fresh]]
        seen[fresh] = True
        out.append(fresh)
    rest = np.flatnonzero(~seen)
    out[0] = np.concatenate([out[0], rest])  # isolated entities exist from the start
    return out


def _blocks(graph: Graph, blocks: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per block: (entities it introduces, its triples)."""
    return list(zip(_first_seen(graph, blocks), blocks, strict=True))


def _shuffled(pair: GraphPair, triples_a: np.ndarray, triples_b: np.ndarray, seed: int
              ) -> Iterator[TripleChange]:
    """All upserts of both graphs in a seeded random order, then all triples likewise."""
    rng = np.random.default_rng(seed)
    graphs = (pair.a, pair.b)
    upserts = [(graph, int(i)) for graph in graphs for i in range(graph.num_entities)]
    for k in rng.permutation(len(upserts)):
        yield _upsert(pair, *upserts[k])
    which = np.repeat([0, 1], [len(triples_a), len(triples_b)])
    rows = np.concatenate([triples_a, triples_b])
    for k in rng.permutation(len(rows)):
        yield _triple(pair, graphs[which[k]], rows[k])


def triple_changes(pair: GraphPair, order: ReplayOrder, seed: int = 0) -> Iterator[TripleChange]:
    """Every entity and triple of both graphs (all snapshots) as TripleChange events, lazily."""
    blocks_a = [pair.a.triples, *(s.triples_a for s in pair.snapshots)]
    blocks_b = [pair.b.triples, *(s.triples_b for s in pair.snapshots)]
    if order is not ReplayOrder.SNAPSHOTS:
        blocks_a, blocks_b = [np.concatenate(blocks_a)], [np.concatenate(blocks_b)]
    if order is ReplayOrder.SHUFFLE:
        yield from _shuffled(pair, blocks_a[0], blocks_b[0], seed)
        return
    for block_a, block_b in zip(_blocks(pair.a, blocks_a), _blocks(pair.b, blocks_b), strict=True):
        for graph, (entities, rows) in ((pair.a, block_a), (pair.b, block_b)):
            yield from (_upsert(pair, graph, int(i)) for i in entities)
            yield from (_triple(pair, graph, row) for row in rows)


def labels(pair: GraphPair) -> Iterator[Label]:
    """The training split as seed Labels: gold pairs MATCH, labelled negatives NON_MATCH."""
    splits = ((pair.train, LabelValue.MATCH),
              (pair.non_matches.get("train", np.zeros((0, 2), np.int64)), LabelValue.NON_MATCH))
    for pairs, value in splits:
        for a, b in pairs:
            left, right = pair.a.keys[a], pair.b.keys[b]
            yield Label.new(left=left, right=right, label=value, source="seed",
                            id_from=(pair.name, left, right, value.value))


def expected_counts(pair: GraphPair) -> ReplayCounts:
    """What a full replay must publish, computed from the dataset alone."""
    triples = len(pair.a.triples) + len(pair.b.triples) + sum(
        len(s.triples_a) + len(s.triples_b) for s in pair.snapshots)
    negatives = len(pair.non_matches.get("train", ()))
    return ReplayCounts(entities=pair.a.num_entities + pair.b.num_entities, triples=triples,
                        labels=len(pair.train) + negatives)
