"""The replay plan: every entity and triple once, entities before their triples, stable ids."""

from itertools import islice

import numpy as np
import pytest

from stream_align.eval.replay import ReplayOrder, expected_counts, labels, triple_changes
from stream_align.events.contracts import LabelValue, TripleOp
from stream_align.graph import Graph, GraphPair, Snapshot


def _graph(label: str, n: int, triples: list[tuple[int, int, int]]) -> Graph:
    return Graph(label=label, keys=[f"{label.lower()}:{i}" for i in range(n)],
                 names=[f"name {i}" if i % 2 else "" for i in range(n)], types=[""] * n,
                 attributes=[{"year": "1999"} if i == 0 else {} for i in range(n)],
                 relations=["r0", "r1"], triples=np.array(triples, dtype=np.int64).reshape(-1, 3))


@pytest.fixture
def pair() -> GraphPair:
    a = _graph("A", 5, [(0, 0, 1), (1, 1, 2)])
    b = _graph("B", 4, [(0, 0, 1)])
    snapshot = Snapshot("batch1", triples_a=np.array([[3, 0, 4]]), triples_b=np.array([[2, 1, 3]]),
                        test=np.zeros((0, 2), np.int64), new_test=np.zeros((0, 2), np.int64))
    return GraphPair(name="toy", a=a, b=b, train=np.array([[0, 0], [1, 1]]),
                     valid=np.zeros((0, 2), np.int64), test=np.array([[2, 2]]),
                     non_matches={"train": np.array([[0, 1]])}, snapshots=[snapshot])


@pytest.mark.parametrize("order", list(ReplayOrder))
def test_every_entity_and_triple_once_entities_first(pair: GraphPair, order: ReplayOrder):
    events = list(triple_changes(pair, order, seed=1))
    counts = expected_counts(pair)
    upserts = [e for e in events if e.op is TripleOp.UPSERT_ENTITY]
    triples = [e for e in events if e.op is TripleOp.ADD_TRIPLE]
    assert (len(upserts), len(triples)) == (counts.entities, counts.triples) == (9, 5)
    assert len({e.key for e in upserts}) == 9
    seen: set[str] = set()
    for event in events:
        if event.op is TripleOp.UPSERT_ENTITY:
            seen.add(event.key)
        else:
            assert {f"{event.graph}/{event.head}", f"{event.graph}/{event.tail}"} <= seen


def test_names_and_attributes_travel_with_the_upsert(pair: GraphPair):
    by_key = {e.key: e for e in triple_changes(pair, ReplayOrder.FILE)
              if e.op is TripleOp.UPSERT_ENTITY}
    assert by_key["A/a:1"].attributes == {"name": "name 1"}
    assert by_key["A/a:0"].attributes == {"year": "1999"}


def test_snapshot_order_holds_back_later_triples(pair: GraphPair):
    events = list(triple_changes(pair, ReplayOrder.SNAPSHOTS))
    first_batch = [i for i, e in enumerate(events) if e.head in ("a:3", "b:2")]
    base_triples = [i for i, e in enumerate(events)
                    if e.op is TripleOp.ADD_TRIPLE and e.head in ("a:0", "a:1", "b:0")]
    assert min(first_batch) > max(base_triples)


def test_ids_are_content_derived_and_shuffle_is_seeded(pair: GraphPair):
    one = [e.event_id for e in triple_changes(pair, ReplayOrder.SHUFFLE, seed=5)]
    two = [e.event_id for e in triple_changes(pair, ReplayOrder.SHUFFLE, seed=5)]
    other = [e.event_id for e in triple_changes(pair, ReplayOrder.SHUFFLE, seed=6)]
    assert one == two
    assert sorted(one) == sorted(other)
    assert one != other
    assert next(islice(triple_changes(pair, ReplayOrder.FILE), 0, None)).event_id in one


def test_labels_cover_train_pairs_and_negatives(pair: GraphPair):
    got = [(x.left, x.right, x.label) for x in labels(pair)]
    assert got == [("a:0", "b:0", LabelValue.MATCH), ("a:1", "b:1", LabelValue.MATCH),
                   ("a:0", "b:1", LabelValue.NON_MATCH)]
    assert expected_counts(pair).labels == 3
