"""The engine returns its state changes as one delta and never touches the store itself."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from engine_fixtures import engine_settings, open_store, synthetic_pair, untrained_bundle

import stream_align.engine as engine_package
from stream_align.engine.delta import GraphOp, Match, StateDelta
from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import Label, LabelValue
from stream_align.events.contracts import TripleChange as T
from stream_align.service.engine_state import StoredState, process_into, write_delta
from stream_align.service.errors import EngineStateError

ENGINE = Path(engine_package.__file__).parent


def _imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    names.update(alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for alias in node.names)
    return names


def test_the_engine_imports_no_store_service_or_harness_module() -> None:
    for path in sorted(ENGINE.glob("*.py")):
        bad = {name for name in _imported(path)
               if name.startswith(("stream_align.store", "stream_align.service",
                                   "stream_align.eval", "stream_align.cli", "rocksdict",
                                   "confluent_kafka"))}
        assert not bad, f"{path.name} imports {sorted(bad)}"


def test_graph_rows_keep_input_order_and_name_their_input() -> None:
    pair = synthetic_pair(12, seed=3)
    engine = AlignmentEngine.empty(untrained_bundle(pair), engine_settings())
    changes = [T.upsert_entity("A", "a:1", attributes={"name": "one"}),
               T.add_triple("A", "a:1", "r", "a:2"),  # creates a:2 bare, then the triple
               T.remove_triple("A", "a:1", "r", "a:9"),  # rejected: no row
               T.delete_entity("A", "a:2"),
               T.upsert_entity("A", "a:2", attributes={"name": "two"})]
    delta = engine.process(changes, []).delta
    assert [(row.position, row.op, row.head) for row in delta.graph] == [
        (0, GraphOp.UPSERT_ENTITY, "a:1"), (1, GraphOp.UPSERT_ENTITY, "a:2"),
        (1, GraphOp.ADD_TRIPLE, "a:1"), (3, GraphOp.DELETE_ENTITY, "a:2"),
        (4, GraphOp.UPSERT_ENTITY, "a:2")]
    assert delta.graph[0].attributes == (("name", "one"),)
    assert set(delta.embeddings) == {("A", "a:1"), ("A", "a:2")}  # net: one row per entity
    ids = sorted(v.faiss_id for v in delta.embeddings.values() if v is not None)
    assert ids == [0, 1] and delta.next_faiss_id == 2


def test_process_writes_nothing_until_the_delta_is_written(tmp_path: Path) -> None:
    pair = synthetic_pair(16, seed=4)
    bundle = untrained_bundle(pair)
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    left, right = pair.a.keys[0], pair.b.keys[0]
    label = Label.new(left=left, right=right, label=LabelValue.MATCH, source="t", event_time=5)
    with open_store(tmp_path / "db") as store:
        with store.transaction() as tx:
            engine = AlignmentEngine.restore(bundle, StoredState(tx), engine_settings())
        outcome = engine.process(changes, [label])
        with store.transaction() as tx:
            assert not list(StoredState(tx).entities("A"))  # the engine wrote nothing
            write_delta(tx, outcome.delta)
        delta = outcome.delta
        assert delta.decisions[left] == Match(right, engine.book.scores[left, right])
        assert delta.event_identity is not None and delta.next_event_seq == len(outcome.events)
        assert len({e.event_id for e in outcome.events}) == len(outcome.events)
        with store.transaction() as tx:
            stored = StoredState(tx)
            assert {key for key, *_ in stored.entities("A")} == set(pair.a.keys)
            assert {a: (b, score) for a, b, score in stored.decisions()} == {
                a: tuple(match) for a, match in delta.decisions.items() if isinstance(match, Match)}
            assert stored.next_faiss_id() == len(pair.a.keys) + len(pair.b.keys)
            restored = AlignmentEngine.restore(bundle, stored, engine_settings())
        assert restored.event_ids.identity == engine.event_ids.identity
        assert restored.event_ids.next == engine.event_ids.next
        assert restored.final_alignment().keys() == engine.final_alignment().keys()
        for s in (0, 1):
            np.testing.assert_array_equal(_vectors(restored, s), _vectors(engine, s))


def _vectors(engine: AlignmentEngine, s: int) -> np.ndarray:
    """Indexed vectors in entity-key order (node numbers are private to one process)."""
    side = engine.sides[s]
    nodes = sorted(side.indexed().tolist(), key=side.graph.keys.__getitem__)
    return side.vectors(nodes)


def test_an_empty_call_has_an_empty_delta() -> None:
    pair = synthetic_pair(12, seed=5)
    engine = AlignmentEngine.empty(untrained_bundle(pair), engine_settings())
    engine.process(list(triple_changes(pair, ReplayOrder.FILE)), [])
    assert engine.process([], []).delta == StateDelta()


def test_a_delta_that_does_not_continue_the_store_is_refused(tmp_path: Path) -> None:
    """An engine not restored from the store would hand out its FAISS and event ids again."""
    pair = synthetic_pair(12, seed=6)
    bundle = untrained_bundle(pair)
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    with open_store(tmp_path / "db") as store:
        with store.transaction() as tx:
            process_into(tx, AlignmentEngine.empty(bundle, engine_settings()), changes, [])
        stranger = AlignmentEngine.empty(bundle, engine_settings())
        with store.transaction() as tx, pytest.raises(EngineStateError, match="FAISS id"):
            process_into(tx, stranger, changes[:3], [])
