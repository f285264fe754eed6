"""Bad input is rejected (never raised), re-delivery is a no-op, retractions and labels work."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.errors import InputFailedError
from stream_align.events.contracts import Decision, Direction, Label, LabelValue, TripleChange
from stream_align.model.bundle import ModelBundle
from stream_align.service.engine_state import StoredState
from stream_align.store.errors import InvalidValueError

torch.set_num_threads(1)

T = TripleChange


def _tiny() -> tuple[ModelBundle, list[TripleChange]]:
    """Two 3-entity graphs whose names match pairwise; x—y—z chains on both sides."""
    bundle = untrained_bundle(synthetic_pair())
    changes = []
    for graph, prefix in (("A", "a"), ("B", "b")):
        for name in ("xavier stone", "yolanda brook", "zachary field"):
            changes.append(T.upsert_entity(graph, f"{prefix}:{name[0]}", attributes={"name": name}))
        changes.append(T.add_triple(graph, f"{prefix}:x", "http://x/rel0", f"{prefix}:y"))
        changes.append(T.add_triple(graph, f"{prefix}:y", "http://x/rel1", f"{prefix}:z"))
    return bundle, changes


def test_engine_rejects_each_bad_input_and_keeps_the_good(tmp_path: Path) -> None:
    bundle, good = _tiny()
    bad = [
        T.add_triple("C", "a:x", "http://x/rel0", "a:y"),
        T.remove_triple("A", "a:x", "http://x/rel0", "a:nobody"),
        T.remove_triple("A", "a:x", "http://x/rel3", "a:z"),
        T.delete_entity("B", "b:nobody"),
    ]
    engine = AlignmentEngine.empty(bundle, engine_settings())
    with open_store(tmp_path / "db") as store:
        (outcome,) = run(store, engine, good + bad)
        with store.transaction() as tx:
            assert tx.graph.has_triple("A", "a:x", "http://x/rel0", "a:y")
    reasons = {index - len(good): error.reason for index, error in outcome.rejected}
    assert reasons == {0: "unknown_graph", 1: "missing_triple", 2: "missing_triple",
                       3: "delete_unknown_entity"}
    assert {e.left: e.right for e in outcome.events} == {"a:x": "b:x", "a:y": "b:y",
                                                         "a:z": "b:z"}
    linked = next(e for e in outcome.events if e.left == "a:y")
    # a:y is the tail of (a:x, rel0, a:y) and the head of (a:y, rel1, a:z)
    assert linked.evidence and {(e.relation_left, e.direction_left) for e in linked.evidence} <= {
        ("rel0", Direction.INCOMING), ("rel1", Direction.OUTGOING)}


def test_a_store_refusal_names_the_input_and_keeps_its_cause(tmp_path: Path) -> None:
    """What the decode-time limits would have refused, if it reaches the store anyway."""
    bundle, good = _tiny()
    huge = T.upsert_entity("A", "a:" + "x" * 70_000)  # built in code: no limits applied
    engine = AlignmentEngine.empty(bundle, engine_settings())
    with open_store(tmp_path / "db") as store:
        with pytest.raises(InputFailedError) as caught:
            run(store, engine, [*good, huge])
        assert (caught.value.kind, caught.value.position) == ("change", len(good))
        assert isinstance(caught.value.__cause__, InvalidValueError)
        with store.transaction() as tx:  # rolled back: nothing of the batch is stored
            assert not tx.graph.has_entity("A", "a:x")
        label = Label.new(left="a:x", right="b:" + "y" * 70_000, label=LabelValue.MATCH,
                          source="seed")
        with pytest.raises(InputFailedError) as caught:
            run(store, AlignmentEngine.empty(bundle, engine_settings()), good, [label])
        assert (caught.value.kind, caught.value.position) == ("label", 0)
        added = [T.add_triple("A", "a:x", "http://x/rel2", "a:z"),  # one run of added triples
                 T.add_triple("A", "a:x", "r" * 70_000, "a:z")]
        with pytest.raises(InputFailedError) as caught:
            run(store, AlignmentEngine.empty(bundle, engine_settings()), [*good, *added])
        assert (caught.value.kind, caught.value.position) == ("change", len(good) + 1)


def test_labels_naming_unknown_entities_are_kept_and_counted(tmp_path: Path) -> None:
    bundle, changes = _tiny()
    engine = AlignmentEngine.empty(bundle, engine_settings())
    veto = Label.new(left="a:x", right="b:x", label=LabelValue.NON_MATCH, source="reviewer")
    with open_store(tmp_path / "db") as store:
        (early,) = run(store, engine, [], [veto])
        assert early.stats["labels_unknown_entity"] == 1 and not early.rejected
        (later,) = run(store, engine, changes)
    assert later.stats["labels_unknown_entity"] == 0
    assert engine.final_alignment().get("a:x", ("",))[0] != "b:x"  # the veto applies


def test_triple_before_its_entity_upsert_ends_the_same(tmp_path: Path) -> None:
    """Partitions by graph/head reorder an UPSERT and a triple naming it: both orders agree."""
    bundle, changes = _tiny()
    upserts = [c for c in changes if c.tail is None]
    triples = [c for c in changes if c.tail is not None]
    finals = []
    for order in (upserts + triples, triples + upserts):
        engine = AlignmentEngine.empty(bundle, engine_settings())
        with open_store(tmp_path / f"db{len(finals)}") as store:
            (outcome,) = run(store, engine, order)
            assert not outcome.rejected
            with store.transaction() as tx:
                assert tx.graph.entity("A", "a:x").attributes == {"name": "xavier stone"}
        finals.append(engine.final_alignment())
    assert finals[0] == finals[1]


def test_engine_redelivery_is_a_no_op(tmp_path: Path) -> None:
    bundle, changes = _tiny()
    engine = AlignmentEngine.empty(bundle, engine_settings())
    with open_store(tmp_path / "db") as store:
        (first,) = run(store, engine, changes)
        before = dict(engine.book.scores)
        (again,) = run(store, engine, changes)
    assert first.events and not again.events and not again.rejected
    assert again.stats["affected"] == 0 and engine.book.scores == before


def test_engine_removed_supporting_triple_retracts(tmp_path: Path) -> None:
    """A structural match (no names) dies when the triple that supported it goes."""
    bundle, changes = _tiny()
    engine = AlignmentEngine.empty(bundle, engine_settings(match_threshold=0.3))
    with open_store(tmp_path / "db") as store:
        run(store, engine, changes)
        assert engine.final_alignment()["a:x"][0] == "b:x"
        cut = T.remove_triple("A", "a:x", "http://x/rel0", "a:y")
        rename = T.upsert_entity("A", "a:x", attributes={"name": "qqqq wwww"})
        (outcome,) = run(store, engine, [cut, rename])
        with store.transaction() as tx:
            stored = tx.decisions.get("a:x")
    retracts = [e for e in outcome.events if e.decision is Decision.RETRACT]
    assert [(e.left, e.right) for e in retracts] == [("a:x", "b:x")]
    assert retracts[0].previous_decision is Decision.MATCH
    assert set(retracts[0].cause) <= {cut.event_id, rename.event_id} and retracts[0].cause
    assert "a:x" not in engine.final_alignment() and stored is None


def test_engine_labels_override_and_persist(tmp_path: Path) -> None:
    bundle, changes = _tiny()
    settings = engine_settings()
    engine = AlignmentEngine.empty(bundle, settings)
    forced = Label.new(left="a:x", right="b:z", label=LabelValue.MATCH, source="reviewer")
    forbid = Label.new(left="a:y", right="b:y", label=LabelValue.NON_MATCH, source="reviewer")
    with open_store(tmp_path / "db") as store:
        run(store, engine, changes)
        (outcome,) = run(store, engine, [], labels=[forced, forbid])
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
            assert tx.decisions.get("a:x").right == "b:z"
    final = engine.final_alignment()
    assert final["a:x"][0] == "b:z" and "a:y" not in final
    assert restored.final_alignment() == final
    made = {(e.left, e.right, e.decision) for e in outcome.events}
    assert ("a:x", "b:z", Decision.MATCH) in made and ("a:y", "b:y", Decision.RETRACT) in made
    event = next(e for e in outcome.events if e.left == "a:x" and e.decision is Decision.MATCH)
    assert event.model_version == bundle.version and event.previous_decision is None
