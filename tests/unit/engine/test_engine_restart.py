"""A restart changes nothing: label rules, restore equality, event ids and event times."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
import torch
from engine_fixtures import engine_settings, open_store

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.labels import LabelBook
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import AlignmentEvent, Label, LabelValue, TripleChange
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.keys import Table
from stream_align.store.state_store import StateStore

torch.set_num_threads(1)
M, N = LabelValue.MATCH, LabelValue.NON_MATCH


def _book(labels: list[tuple[str, str, LabelValue, int]]) -> LabelBook:
    book = LabelBook()
    for left, right, value, when in labels:
        book.set(left, right, value, when)
    return book


def _forced(book: LabelBook) -> tuple[dict[str, str], dict[str, str], dict]:
    return dict(book.forced_left), dict(book.forced_right), dict(book.labels)


def test_label_rules_do_not_depend_on_arrival_order() -> None:
    """Many-to-many MATCH labels: every order of the same table gives the same forcing."""
    table = [("a1", "b1", M, 5), ("a1", "b2", M, 9), ("a2", "b2", M, 7), ("a2", "b3", M, 7),
             ("a3", "b1", M, 9), ("a3", "b4", N, 3), ("a4", "b4", M, 1)]
    want = _forced(_book(table))
    assert want[0] == {"a1": "b2", "a2": "b2", "a3": "b1", "a4": "b4"}  # latest, then key
    assert want[1] == {"b1": "a3", "b2": "a1", "b3": "a2", "b4": "a4"}
    for order in itertools.permutations(table):
        assert _forced(_book(list(order))) == want


def test_a_replaced_match_label_hands_over_to_the_next_latest() -> None:
    """A NON_MATCH on the governing label revives the entity's next-latest MATCH (whichever
    label it replaced), and ``set`` names every pair whose standing moved."""
    book = _book([("a1", "b1", M, 1), ("a1", "b2", M, 2), ("a1", "b3", M, 3)])
    assert book.forced_left == {"a1": "b3"}
    changed = book.set("a1", "b1", N, 4)  # not the governing one: nothing moves but the pair
    assert book.forced_left == {"a1": "b3"} and changed == {("a1", "b1"), ("a1", "b3")}
    changed = book.set("a1", "b3", N, 5)
    assert book.forced_left == {"a1": "b2"} and "b3" not in book.forced_right
    assert {("a1", "b3"), ("a1", "b2")} <= changed
    assert _forced(book) == _forced(_book([("a1", "b1", N, 4), ("a1", "b2", M, 2),
                                           ("a1", "b3", N, 5)]))


def _labels(pair: GraphPair, seed: int) -> list[Label]:
    """Seeds with many-to-many MATCHes (each left of a few rights and back) and corrections."""
    rng = random.Random(seed)
    a, b = pair.a.keys, pair.b.keys
    gold = {a[i]: b[j] for i, j in pair.train.tolist()}
    out = []
    for left, right in gold.items():
        others = rng.sample(b, 2)
        for k, other in enumerate([right, *others]):
            out.append(Label.new(left=left, right=other, label=M, source="seed",
                                 event_time=1000 + rng.randrange(3) + k))
        out.append(Label.new(left=rng.choice(a), right=right, label=M, source="seed",
                             event_time=1002))
    for left, right in list(gold.items())[:3]:  # a reviewer vetoes some seeds
        out.append(Label.new(left=left, right=right, label=N, source="reviewer",
                             event_time=2000))
    return out


def _batches(pair: GraphPair, labels: list[Label]) -> list[tuple[list[TripleChange], list[Label]]]:
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=7))
    out = []
    for i, start in enumerate(range(0, len(changes), 40)):
        out.append((changes[start:start + 40], labels[i * 5:i * 5 + 5]))
    rest = labels[len(out) * 5:]
    out[-1] = (out[-1][0], out[-1][1] + rest)
    return out


def _state(engine: AlignmentEngine, store: StateStore) -> dict[str, object]:
    """Everything a restart must reproduce, in comparable form."""
    sides = engine.sides
    with store.transaction() as tx:
        rows = {t: list(tx.rows(t)) for t in (Table.LABEL, Table.RECOMPUTE,  # decision: scores
                                              Table.DECISION_BY_RIGHT, Table.ENTITY)}
        counters = [row for row in tx.rows(Table.META)  # event_seq: counts the event log
                    if row[0].startswith(b"counter/") and row[0] != b"counter/event_seq"]
    return {
        "labels": dict(engine.decider.labels), "forced": (dict(engine.decider.forced_left),
                                                          dict(engine.decider.forced_right)),
        "matches": dict(engine.decider.matches), "published": dict(engine.decider.published),
        "scores": dict(engine.book.scores),
        "lists": [{sides[s].graph.keys[n]: [sides[1 - s].graph.keys[m] for m in c]
                   for n, c in sides[s].cands.items()} for s in (0, 1)],
        "pending": [{sides[s].graph.keys[n]: q for n, q in engine.pending[s].items()}
                    for s in (0, 1)],
        "rows": rows, "counters": counters,
    }


def _run(tmp: Path, bundle: ModelBundle, batches: list, restart_after: set[int]
         ) -> tuple[dict[str, object], list[AlignmentEvent]]:
    settings = engine_settings(max_affected_per_batch=25, match_threshold=0.2,
                               keep_threshold=0.1)
    events: list[AlignmentEvent] = []
    with open_store(tmp) as store:
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        for i, (changes, labels) in enumerate([*batches, *[([], [])] * 12]):
            with store.transaction() as tx:
                events += process_into(tx, engine, changes, labels).events
            if i in restart_after:  # as after kill -9 / SIGTERM: memory from the store only
                with store.transaction() as tx:
                    engine = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        assert not engine.pending_count
        return _state(engine, store), events


def test_restarts_reproduce_the_uninterrupted_state(tmp_path: Path, pair: GraphPair,
                                                     bundle: ModelBundle) -> None:
    """Restoring after any batch (mid-drain included) ends in the uninterrupted run's labels,
    forcing, matches, published scores, candidate lists, pair scores, queue and store rows;
    every event has its own id. (The event log itself may differ: a restart mid-drain flushes
    held work at another call, as a crash's re-read batches would.)"""
    batches = _batches(pair, _labels(pair, seed=1))
    want, _ = _run(tmp_path / "live", bundle, batches, set())
    assert want["forced"] and want["matches"]
    for case, restarts in enumerate(({0, 1, 2}, {3, 5, 8, 9}, set(range(0, 30, 2)))):
        got, events = _run(tmp_path / f"r{case}", bundle, batches, restarts)
        for part in want:  # scores: float32 sums of other batch shapes differ in the last bits
            floats = part in ("scores", "published")
            assert got[part] == (pytest.approx(want[part], abs=1e-5) if floats else want[part])
        assert len({e.event_id for e in events}) == len(events)


def test_label_order_within_and_across_batches_does_not_matter(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """The same labels in another interleaving (partitions do that) end in the same state."""
    labels = _labels(pair, seed=2)
    shuffled = labels[:]
    random.Random(3).shuffle(shuffled)
    # corrections of one pair keep their partition order: only distinct pairs move
    vetoes = [x for x in shuffled if x.label is N]
    shuffled = [x for x in shuffled if x.label is M] + vetoes
    want, _ = _run(tmp_path / "a", bundle, _batches(pair, labels), set())
    got, _ = _run(tmp_path / "b", bundle, _batches(pair, shuffled), set())
    for part in ("labels", "forced", "matches", "lists"):
        assert got[part] == want[part], part
    assert got["scores"] == pytest.approx(want["scores"], abs=1e-5)


def test_event_ids_are_unique_and_times_come_from_causes(tmp_path: Path, pair: GraphPair,
                                                         bundle: ModelBundle) -> None:
    """A pair matched and retracted over and over by labels gets a new id every time; each
    event's time is its causing label's, not the batch's latest input."""
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    left, right = pair.a.keys[0], pair.b.keys[1]
    events = []
    with open_store(tmp_path / "db") as store:
        engine = AlignmentEngine.empty(bundle, engine_settings())
        with store.transaction() as tx:
            process_into(tx, engine, [c.model_copy(update={"event_time": 10}) for c in changes], [])
        for k in range(6):
            value = M if k % 2 == 0 else N
            label = Label.new(left=left, right=right, label=value, source="t",
                              event_time=100 + k)
            late = TripleChange.upsert_entity("A", "a:lonely", event_time=10_000 + k)
            with store.transaction() as tx:
                events += process_into(tx, engine, [late], [label]).events
        ids = [e.event_id for e in events]
        assert len(set(ids)) == len(ids)
        mine = [e for e in events if (e.left, e.right) == (left, right)]
        assert [e.decision for e in mine] == ["MATCH", "RETRACT"] * 3
        assert [e.event_time for e in mine] == [100, 101, 102, 103, 104, 105]
        assert all(e.decided_at is not None and e.decided_at >= e.event_time for e in events)
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), engine.settings)
        with store.transaction() as tx:
            more = process_into(tx, restored, [], [Label.new(left=left, right=right, label=M,
                                                       source="t", event_time=200)]).events
        assert more and not {e.event_id for e in more} & set(ids)
