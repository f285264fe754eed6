"""Hypothesis strategies that build valid events of every contract, plus shared test helpers.

Strategies are built from the models' own fields and rules (one branch per TripleChange op, per
AlignmentEvent history), so every drawn value is a model the codec must round-trip.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from stream_align.events import (
    AlignmentEvent,
    DeadLetter,
    Decision,
    Direction,
    Event,
    Evidence,
    Label,
    LabelValue,
    TripleChange,
    TripleOp,
)
from stream_align.events.contracts import MAX_EVENT_TIME_MS

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""Moderate example counts: the machine is shared and the suite must stay under 30 s."""

keys = st.text(min_size=1, max_size=12)
texts = st.text(max_size=24)
finite = st.floats(allow_nan=False, allow_infinity=False)


def _meta() -> dict[str, Any]:
    return {
        "event_id": st.one_of(st.uuids().map(lambda u: u.hex), keys),
        "event_time": st.integers(0, MAX_EVENT_TIME_MS),
    }


triple_changes = st.one_of(
    st.builds(
        TripleChange, **_meta(), graph=keys, head=keys, relation=keys, tail=keys,
        op=st.sampled_from([TripleOp.ADD_TRIPLE, TripleOp.REMOVE_TRIPLE]),
    ),
    st.builds(
        TripleChange, **_meta(), graph=keys, head=keys, op=st.just(TripleOp.UPSERT_ENTITY),
        entity_type=st.none() | keys, attributes=st.dictionaries(texts, texts, max_size=4),
    ),
    st.builds(TripleChange, **_meta(), graph=keys, head=keys, op=st.just(TripleOp.DELETE_ENTITY)),
)

evidence = st.builds(
    Evidence, left_neighbour=keys, right_neighbour=keys, relation_left=st.none() | keys,
    relation_right=st.none() | keys, weight=finite,
    direction_left=st.none() | st.sampled_from(list(Direction)),
    direction_right=st.none() | st.sampled_from(list(Direction)),
)

_histories = st.one_of(
    st.tuples(st.just(Decision.MATCH), st.none(), st.none()),
    st.tuples(st.sampled_from(list(Decision)), st.just(Decision.MATCH), finite),
    st.tuples(st.just(Decision.MATCH), st.just(Decision.RETRACT), finite),
)
"""(decision, previous_decision, previous_score) combinations the model allows."""


@st.composite
def alignment_events(draw: st.DrawFn) -> AlignmentEvent:
    decision, previous_decision, previous_score = draw(_histories)
    return draw(st.builds(
        AlignmentEvent, **_meta(), left=keys, right=keys, decision=st.just(decision),
        score=finite, previous_decision=st.just(previous_decision),
        previous_score=st.just(previous_score), model_version=keys,
        evidence=st.lists(evidence, max_size=3).map(tuple),
        cause=st.lists(keys, max_size=3).map(tuple),
        decided_at=st.one_of(st.none(), st.integers(0, MAX_EVENT_TIME_MS)),
    ))


labels = st.builds(
    Label, **_meta(), left=keys, right=keys, label=st.sampled_from(list(LabelValue)), source=keys
)

dead_letters = st.builds(
    DeadLetter, **_meta(), original=st.binary(max_size=64), error_class=keys,
    error_message=texts, topic=keys, partition=st.integers(0, 2**31 - 1),
    offset=st.integers(0, 2**63 - 1),
)

EVENTS: dict[type[Event], st.SearchStrategy[Any]] = {
    TripleChange: triple_changes,
    AlignmentEvent: alignment_events(),
    Label: labels,
    DeadLetter: dead_letters,
}
"""A strategy of valid events for every contract."""


class FakeRegistryError(Exception):
    """Stands in for ``SchemaRegistryError``: the codec only looks at ``http_status_code``."""

    def __init__(self, http_status_code: int) -> None:
        super().__init__(f"HTTP {http_status_code}")
        self.http_status_code = http_status_code


class FakeSchema:
    """Stands in for ``confluent_kafka.schema_registry.Schema``."""

    def __init__(self, schema_str: str, schema_type: str = "AVRO") -> None:
        self.schema_str = schema_str
        self.schema_type = schema_type


class FakeRegistry:
    """An in-memory Schema Registry with the three calls the codec makes."""

    def __init__(self, conf: dict[str, Any] | None = None, *, down: bool = False) -> None:
        self.conf = conf
        self.down = down
        self.by_id: dict[int, str] = {}
        self.by_subject: dict[str, int] = {}

    def add(self, schema_text: str, subject: str | None = None) -> int:
        schema_id = next((i for i, t in self.by_id.items() if t == schema_text), None)
        if schema_id is None:
            schema_id = 100 + len(self.by_id)
            self.by_id[schema_id] = schema_text
        if subject is not None:
            self.by_subject[subject] = schema_id
        return schema_id

    def _check_up(self) -> None:
        if self.down:
            raise ConnectionError("registry unreachable")

    def register_schema(self, subject: str, schema: FakeSchema) -> int:
        self._check_up()
        return self.add(schema.schema_str, subject)

    def lookup_schema(self, subject: str, schema: FakeSchema) -> Any:
        self._check_up()
        if subject not in self.by_subject:
            raise FakeRegistryError(404)
        return type("RegisteredSchema", (), {"schema_id": self.by_subject[subject]})()

    def get_schema(self, schema_id: int) -> FakeSchema:
        self._check_up()
        if schema_id not in self.by_id:
            raise FakeRegistryError(404)
        return FakeSchema(self.by_id[schema_id])
