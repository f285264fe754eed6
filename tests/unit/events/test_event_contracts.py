"""The typed contracts: rules the Avro schema cannot express, and the helper constructors."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from stream_align.events import (
    AlignmentEvent,
    DeadLetter,
    Decision,
    Label,
    TripleChange,
    TripleOp,
    new_event_id,
    now_ms,
)
from stream_align.events.contracts import _ID_NAMESPACE


def test_triple_ops_need_relation_and_tail() -> None:
    for op in (TripleOp.ADD_TRIPLE, TripleOp.REMOVE_TRIPLE):
        with pytest.raises(ValidationError, match="needs relation and tail"):
            TripleChange.new(graph="A", op=op, head="h", relation="r")
        with pytest.raises(ValidationError, match="needs relation and tail"):
            TripleChange.new(graph="A", op=op, head="h", tail="t")


def test_triple_ops_carry_no_entity_fields() -> None:
    with pytest.raises(ValidationError, match="no entity_type or attributes"):
        TripleChange.new(graph="A", op=TripleOp.ADD_TRIPLE, head="h", relation="r", tail="t",
                         attributes={"name": "x"})


@pytest.mark.parametrize("op", [TripleOp.UPSERT_ENTITY, TripleOp.DELETE_ENTITY])
@pytest.mark.parametrize("extra", [{"tail": "t"}, {"relation": "r"}])
def test_entity_ops_have_no_tail_or_relation(op: TripleOp, extra: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="carries no relation or tail"):
        TripleChange.new(graph="A", op=op, head="h", **extra)


def test_delete_entity_carries_nothing_but_head() -> None:
    with pytest.raises(ValidationError, match="DELETE_ENTITY carries no"):
        TripleChange.new(graph="A", op=TripleOp.DELETE_ENTITY, head="h", entity_type="film")


def test_helper_constructors_fill_id_and_time() -> None:
    before = now_ms()
    upsert = TripleChange.upsert_entity("B", "e1", "film", {"name": "Heat"})
    assert len(upsert.event_id) == 32 and int(upsert.event_id, 16) >= 0
    assert before <= upsert.event_time <= now_ms()
    assert upsert.key == "B/e1"
    assert TripleChange.delete_entity("A", "e1").op is TripleOp.DELETE_ENTITY
    assert TripleChange.remove_triple("A", "h", "r", "t").tail == "t"
    assert TripleChange.add_triple("A", "h", "r", "t", event_time=5).event_time == 5


def test_deterministic_ids_depend_on_parts_and_contract() -> None:
    one = TripleChange.add_triple("A", "h", "r", "t", id_from=["line", 7])
    again = TripleChange.add_triple("A", "h", "r", "t", id_from=["line", 7])
    assert one.event_id == again.event_id
    text_part = TripleChange.add_triple("A", "h", "r", "t", id_from=["line", "7"])
    assert text_part.event_id != one.event_id
    label = Label.new(left="a", right="b", label="MATCH", source="seed", id_from=["line", 7])
    assert label.event_id != one.event_id
    assert new_event_id("a/b") != new_event_id("a", "b")
    assert new_event_id() != new_event_id()


@pytest.mark.parametrize("parts", [("AlignmentEvent", "9f" * 16, 0), ("x",), (1,),
                                   ("é", "\u4e2d", 2**70), ("AlignmentEvent", "s", 10**9)])
def test_deterministic_ids_are_uuid5_of_the_parts_json(parts: tuple[str | int, ...]) -> None:
    name = json.dumps(list(parts), ensure_ascii=False)
    assert new_event_id(*parts) == uuid.uuid5(_ID_NAMESPACE, name).hex


def test_event_time_accepts_datetime_as_fastavro_returns_it() -> None:
    when = datetime(2024, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    label = Label.new(left="a", right="b", label="MATCH", source="seed", event_time=when)
    assert label.event_time == 1_714_979_289_123
    naive = Label.new(left="a", right="b", label="MATCH", source="s", event_time=when.replace(
        tzinfo=None))
    assert naive.event_time == label.event_time


@pytest.mark.parametrize("event_time", [-1, 253_402_300_800_000])
def test_event_time_stays_in_the_readable_range(event_time: int) -> None:
    with pytest.raises(ValidationError):
        Label.new(left="a", right="b", label="MATCH", source="s", event_time=event_time)


def _alignment(**fields: object) -> AlignmentEvent:
    return AlignmentEvent.new(left="a", right="b", model_version="v1", **fields)


def test_alignment_history_is_consistent() -> None:
    with pytest.raises(ValidationError, match="both set or both null"):
        _alignment(decision=Decision.MATCH, score=0.9, previous_decision=Decision.MATCH)
    with pytest.raises(ValidationError, match="RETRACT replaces a MATCH"):
        _alignment(decision=Decision.RETRACT, score=0.1)
    retract = _alignment(decision=Decision.RETRACT, score=0.1,
                         previous_decision=Decision.MATCH, previous_score=0.9)
    assert retract.previous_score == 0.9


@pytest.mark.parametrize("score", [float("nan"), float("inf")])
def test_scores_are_finite(score: float) -> None:
    with pytest.raises(ValidationError):
        _alignment(decision=Decision.MATCH, score=score)


def test_keys_are_never_empty() -> None:
    with pytest.raises(ValidationError):
        Label.new(left="", right="b", label="MATCH", source="seed")


def test_models_are_frozen_and_strict_about_bytes() -> None:
    label = Label.new(left="a", right="b", label="MATCH", source="seed")
    with pytest.raises(ValidationError):
        label.left = "c"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        DeadLetter.new(original="text", error_class="x", error_message="", topic="t",
                       partition=0, offset=0)


def test_record_form_round_trips() -> None:
    event = _alignment(decision=Decision.MATCH, score=0.8,
                       evidence=[{"left_neighbour": "x", "right_neighbour": "y", "weight": 0.5}],
                       cause=["e1"])
    record = event.to_record()
    assert record["decision"] == "MATCH" and record["evidence"][0]["relation_left"] is None
    assert AlignmentEvent.from_record(record) == event
