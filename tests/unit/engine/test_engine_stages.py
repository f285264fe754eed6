"""Each stage of ``process`` on its own: explicit input, the state it owns, its delta rows.

A failure here names the stage (the test) and the entity or row that differs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings

from stream_align.engine.apply import apply_changes, apply_labels
from stream_align.engine.causes import Causes
from stream_align.engine.decisions import Decider, PairBook
from stream_align.engine.delta import LabelRow, Match, Retracted, StateDelta
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.events import EventIds
from stream_align.engine.held import HeldWork
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.queue import DeferredQueue
from stream_align.engine.stages import Affected, Either, Recompute, decide, find_affected
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import Label, LabelValue
from stream_align.events.contracts import TripleChange as T
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle

torch.set_num_threads(1)
M = LabelValue.MATCH


@pytest.fixture
def loaded(pair: GraphPair, bundle: ModelBundle) -> AlignmentEngine:
    """An engine holding the whole synthetic pair (a fresh one per test: stages write)."""
    engine = AlignmentEngine.empty(bundle, engine_settings())
    engine.process(list(triple_changes(pair, ReplayOrder.FILE)), [])
    return engine


def _graph(keys: list[str]) -> MutableGraph:
    graph = MutableGraph("A", "A")
    for key in keys:
        graph.upsert(key, "", {})
    return graph


def test_apply_labels_records_each_label_with_its_position() -> None:
    decider, delta, causes = Decider(engine_settings(), PairBook()), StateDelta(), Causes()
    labels = [Label.new(left="a", right="b", label=M, source="s", event_time=3),
              Label.new(left="a", right="c", label=M, source="s", event_time=4)]
    changed = apply_labels(delta, decider, labels, causes)
    assert delta.labels == [LabelRow(0, "a", "b", "MATCH", "s", 3),
                            LabelRow(1, "a", "c", "MATCH", "s", 4)]
    assert changed == [("a", "b"), ("a", "c")]
    assert decider.forced_left == {"a": "c"}  # the latest MATCH governs (``labels``)


def test_affected_is_the_renamed_node_and_every_node_reading_it(
        loaded: AlignmentEngine) -> None:
    """A new name changes ``x``'s features only: ``D = {n : x ∈ S(n) ∪ S(S(n)) ∪ {n}}``."""
    side = loaded.sides[0]
    x = max(side.graph.alive_indices(), key=lambda n: len(side.graph.inn.ends(n)))
    readers = {n for n in side.graph.alive_indices() if x in side.samples.closure([n])}
    applied = apply_changes(StateDelta(), [s.graph for s in loaded.sides], loaded.settings,
                            [T.upsert_entity("A", side.graph.keys[x],
                                             attributes={"name": "renamed"})])
    affected = find_affected(loaded.sides, applied)
    assert affected.nodes[0] == readers, sorted(affected.nodes[0] ^ readers)
    assert not affected.nodes[1] and affected.gone == (set(), set())
    delete = apply_changes(StateDelta(), [s.graph for s in loaded.sides], loaded.settings,
                           [T.delete_entity("A", side.graph.keys[x])])
    gone = find_affected(loaded.sides, delete)
    assert gone.gone[0] == {x} and x not in gone.nodes[0]


def test_queue_takes_the_oldest_first_then_new_nodes_by_key() -> None:
    graph = _graph(["k3", "k1", "k2", "k0"])  # nodes 0..3; keys out of node order
    queue, delta = DeferredQueue((graph, _graph([]))), StateDelta()
    assert queue.choose(delta, 0, {0, 1, 2}, budget=1) == [1]  # k1 < k2 < k3
    assert dict(queue.queued(0)) == {2: 1, 0: 2} and queue.next_seq == 3
    assert delta.queue == {("A", "k2"): 1, ("A", "k3"): 2} and delta.next_queue_seq == 3
    graph.delete("k2")
    later = StateDelta()
    assert queue.choose(later, 0, {3}, budget=1) == [0]  # k3 waited longest; k2 is gone
    assert later.queue == {("A", "k3"): None, ("A", "k2"): None, ("A", "k0"): 3}
    restored = DeferredQueue((graph, _graph([])), first=4)
    restored.restore(0, "k0", 3)
    restored.restore(0, "k2", 1)  # deleted meanwhile: not queued again
    assert dict(restored.queued(0)) == {3: 3} and restored.next_seq == 4


def test_queue_affected_again_keeps_its_stored_row() -> None:
    """A queued node affected again keeps its number, so the delta writes no row for it (its
    stored row stands); only the node new to the queue gets one."""
    graph = _graph(["k0", "k1", "k2"])
    queue = DeferredQueue((graph, _graph([])))
    queue.choose(StateDelta(), 0, {0, 1}, budget=0)
    again = StateDelta()
    assert queue.choose(again, 0, {0, 1, 2}, budget=0) == []
    assert dict(queue.queued(0)) == {0: 0, 1: 1, 2: 2}
    assert again.queue == {("A", "k2"): 2} and again.next_queue_seq == 3


def _choose_by_tuples(pending: dict[int, int], graph: MutableGraph, delta: StateDelta,
                      affected: set[int], budget: int, first: int) -> tuple[list[int], int]:
    """``DeferredQueue.choose`` as it was written before decision 0102: sorted tuples."""
    stored = set(pending)
    for node in sorted(affected - stored, key=graph.keys.__getitem__):
        pending[node] = first
        first += 1
    live = sorted((seq, node) for node, seq in pending.items() if graph.is_alive(node))
    chosen = [node for _, node in live[:max(budget, 0)]]
    for node in list(pending):
        key = (graph.graph_id, graph.keys[node])
        if node in chosen or not graph.is_alive(node):
            del pending[node]
            if node in stored:
                delta.queue[key] = None
        elif node in affected and node not in stored:  # a stored row stands (0115)
            delta.queue[key] = pending[node]
    return chosen, first


@pytest.mark.parametrize("seed", range(6))
def test_queue_choose_equals_the_tuple_sort(seed: int) -> None:
    """Random calls (new work, work affected again, deletions, a restore out of order):
    the same nodes chosen, queue left and delta rows in the same order as the tuple sort."""
    rng = np.random.default_rng(seed)
    graph = _graph([f"k{int(x)}" for x in rng.permutation(200)])
    queue, pending, first = DeferredQueue((graph, _graph([]))), {}, 0
    if seed % 2:  # restored rows out of number order (the sorted path), then calls continue
        queue = DeferredQueue((graph, _graph([])), first=0)
        for seq, node in zip(rng.permutation(30).tolist(),
                             rng.choice(200, 30, replace=False).tolist(), strict=True):
            queue.restore(0, graph.keys[node], 2 * seq)
            pending[node] = 2 * seq
        first = queue.next_seq
    for _ in range(12):
        for node in rng.choice(200, 3, replace=False).tolist():
            graph.delete(graph.keys[node])
        affected = {int(x) for x in rng.choice(200, int(rng.integers(0, 40)), replace=False)}
        budget = int(rng.integers(-1, 30))
        got, want = StateDelta(), StateDelta()
        chosen, first = _choose_by_tuples(pending, graph, want, affected, budget, first)
        assert queue.choose(got, 0, affected, budget) == chosen
        assert list(got.queue.items()) == list(want.queue.items())
        assert list(queue.queued(0).items()) == list(pending.items())
        assert queue.next_seq == first


def test_either_reads_as_the_union() -> None:
    queued = {3: 0, 5: 1, 8: 2}
    stale = Either({1, 3}, queued.keys(), {9})
    assert 5 in stale and 9 in stale and 1 in stale and 4 not in stale
    assert sorted(stale) == [1, 3, 5, 8, 9] and len(stale) == 5
    del queued[5]  # a view: the queue as it is when asked
    assert 5 not in stale and len(stale) == 4


def test_recompute_encodes_what_fits_and_keeps_faiss_ids(loaded: AlignmentEngine) -> None:
    side = loaded.sides[1]
    nodes = sorted(side.indexed().tolist(), key=side.graph.keys.__getitem__)[:5]  # new work: by key
    before = side.vectors(nodes).copy()
    ids = dict(zip(nodes, side.faiss_ids(np.array(nodes)).tolist(), strict=True))
    stage = Recompute(loaded.bundle, loaded.sides, DeferredQueue(
        tuple(s.graph for s in loaded.sides)), loaded.faiss_ids, 2)
    delta = StateDelta()
    computed = stage(delta, Affected(nodes=(set(), set(nodes))), budget=3)
    assert computed == (set(), set(nodes[:3])) and len(stage.queue.queued(1)) == 2
    keys = {side.graph.keys[n]: n for n in nodes[:3]}
    assert set(delta.embeddings) == {("B", key) for key in keys}
    for key, node in keys.items():  # unchanged inputs: the same vector under the same id
        row = delta.embeddings["B", key]
        assert row is not None and row.faiss_id == ids[node], key
    np.testing.assert_allclose(side.vectors(nodes), before, atol=1e-5)


def test_recompute_keeps_vectors_within_the_tolerance_but_not_its_own_nodes(
        loaded: AlignmentEngine) -> None:
    """With ``tolerance``, a recomputed vector that did not move (unchanged inputs) keeps its
    indexed version: no embedding row, not returned as computed. A node the batch touched
    (``own``) is indexed all the same, and so is every vector at tolerance 0."""
    side = loaded.sides[1]
    nodes = sorted(side.indexed().tolist())[:5]
    graphs = tuple(s.graph for s in loaded.sides)
    stage = Recompute(loaded.bundle, loaded.sides, DeferredQueue(graphs), loaded.faiss_ids, 8,
                      tolerance=0.5)
    delta = StateDelta()
    computed = stage(delta, Affected(nodes=(set(), set(nodes)), own=(set(), {nodes[2]})),
                     budget=10)
    assert computed == (set(), {nodes[2]}) and stage.kept == 4
    assert set(delta.embeddings) == {("B", side.graph.keys[nodes[2]])}
    assert side.drift(nodes, side.vectors(nodes)).max() < 1e-6
    exact = Recompute(loaded.bundle, loaded.sides, DeferredQueue(graphs), loaded.faiss_ids, 8)
    assert exact(StateDelta(), Affected(nodes=(set(), set(nodes))), budget=10) == \
        (set(), set(nodes)) and exact.kept == 0


def test_recompute_names_the_nodes_indexed_for_the_first_time(
        loaded: AlignmentEngine) -> None:
    """``first``: the recomputed nodes that had no indexed vector (a deleted node's comes
    back as first), not those that had one (the shared-anchor pools read ``first`` alone)."""
    side = loaded.sides[1]
    nodes = sorted(side.indexed().tolist())[:4]
    graphs = tuple(s.graph for s in loaded.sides)
    delta = StateDelta()
    side.drop(delta, nodes[:1])  # its vector gone: the next recompute indexes it anew
    stage = Recompute(loaded.bundle, loaded.sides, DeferredQueue(graphs), loaded.faiss_ids, 8)
    computed = stage(delta, Affected(nodes=(set(), set(nodes))), budget=10)
    assert computed == (set(), set(nodes)) and stage.first == (set(), {nodes[0]})
    again = Recompute(loaded.bundle, loaded.sides, DeferredQueue(graphs), loaded.faiss_ids, 8)
    again(StateDelta(), Affected(nodes=(set(), set(nodes))), budget=10)
    assert again.first == (set(), set())


def test_decide_records_each_left_once() -> None:
    book = PairBook()
    decider = Decider(engine_settings(match_threshold=0.5, keep_threshold=0.5), book)
    book.set("a1", "b1", 0.9)
    book.set("a2", "b1", 0.8)
    delta = StateDelta()
    decide(delta, decider, HeldWork(), book.pack([("a1", "b1"), ("a2", "b1")]))
    assert delta.decisions == {"a1": Match("b1", 0.9)}
    book.set("a2", "b1", 0.95)  # a2 takes b1 over: a1 retracted
    later = StateDelta()
    decided = decide(later, decider, HeldWork(), book.pack([("a2", "b1")]))
    assert [(c.left, c.retract) for c in decided] == [("a1", True), ("a2", False)]
    assert later.decisions == {"a1": Retracted("b1"), "a2": Match("b1", 0.95)}  # names b1


def test_event_ids_take_one_identity_and_consecutive_numbers() -> None:
    ids, delta = EventIds(), StateDelta()
    identity, first = ids.allocate(3, delta)
    assert first == 0 and delta.event_identity == identity and delta.next_event_seq == 3
    later = StateDelta()
    assert ids.allocate(2, later) == (identity, 3)
    assert later.event_identity is None and later.next_event_seq == 5  # identity: once
    assert EventIds("kept", 7).allocate(1, StateDelta()) == ("kept", 7)


def test_the_budget_is_split_by_what_waits_on_each_graph() -> None:
    """Graph A's whole queue first made a large load compute no B vector until A was done
    (decision 0044): the budget goes to each graph in proportion to its waiting nodes, and
    what one graph cannot use goes to the other."""
    queue = DeferredQueue((_graph([f"a{i}" for i in range(30)]),
                           _graph([f"b{i}" for i in range(10)])))
    assert queue.first_share((set(range(30)), set(range(10))), 8) == 6  # 30 : 10
    assert queue.first_share((set(range(30)), set(range(2))), 8) == 7  # 30 : 2, B takes 1
    assert queue.first_share((set(range(3)), set(range(10))), 20) == 20  # everything fits
    assert queue.first_share((set(), set(range(10))), 8) == 0
