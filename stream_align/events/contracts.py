"""Typed event contracts: one frozen pydantic model per Avro schema in ``schemas/``.

Contract: a model's fields and their order are exactly those of its schema (``avro_name`` names
it), and ``to_record()`` / ``from_record()`` convert to and from the Avro record form that fastavro
reads and writes: enums as their symbol strings (``StrEnum`` members are ``str``), nullable fields
as ``None``, arrays as tuples, ``event_time`` as int milliseconds since the epoch (``from_record``
also takes the ``datetime`` fastavro returns for timestamp-millis). The models also enforce what a
schema cannot say: non-empty keys, finite scores, Kafka ranges, and which fields each
``TripleChange.op`` uses. Constructing a model that breaks a rule raises pydantic's
``ValidationError``; the codec turns that into its own errors. ``from_record`` with
``InputLimits`` also applies the input limits (``limits``). The Python enums list the symbols
this version acts on; the schema enums add ``UNKNOWN``, their default (see ``UNKNOWN``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from stream_align.events.limits import LIMITS, InputLimits, check_attributes, check_key

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EVENT_TIME_MS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: the last instant a ``datetime`` (and so fastavro's reader) can hold."""

_ID_NAMESPACE = uuid.UUID("5f0c9b1e-3c1d-4f57-9a51-8a1e2c7d4b10")

Key = Annotated[str, Field(min_length=1), AfterValidator(check_key)]
"""An entity key, relation or id: empty strings are never meaningful and usually a bug upstream;
a decoded one is at most ``InputLimits.max_key_bytes`` long."""
UNKNOWN = "UNKNOWN"
"""Every schema enum's default symbol: what a reader gets for a symbol newer than its schema.
No model accepts it where it would have to act on it (the codec reports ``unknown_symbol``)."""
Finite = Annotated[float, Field(allow_inf_nan=False)]
"""NaN breaks equality (so idempotent re-scoring) and is not JSON."""


def now_ms() -> int:
    """Current wall-clock time in milliseconds since the epoch, the unit of ``event_time``."""
    return time.time_ns() // 1_000_000


def new_event_id(*parts: str | int) -> str:
    """A fresh uuid4 hex id, or, given parts, a uuid5 hex id that is the same for the same parts.

    Deterministic ids let a re-run (replay, retry after a crash) produce the *same* events, so
    consumers deduplicate them by ``event_id``. Parts are JSON-encoded, so ``("a/b",)`` and
    ``("a", "b")`` and ``(1,)`` and ``("1",)`` all differ.
    """
    if not parts:
        return uuid.uuid4().hex
    name = json.dumps(list(parts), ensure_ascii=False).encode("utf-8")
    # ``uuid.uuid5(_ID_NAMESPACE, name).hex`` without the ``UUID`` object (a bulk refresh
    # names tens of thousands of events): SHA-1 of the namespace and name, version 5, RFC 4122
    # variant
    digest = bytearray(hashlib.sha1(_ID_NAMESPACE.bytes + name).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()


def _to_ms(value: datetime) -> int:
    """Exact integer milliseconds of a datetime; a naive datetime is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (value - _EPOCH) // timedelta(milliseconds=1)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(_Frozen):
    """Fields and helpers every contract shares."""

    avro_name: ClassVar[str]
    """Full Avro record name; also the Schema Registry subject (RecordNameStrategy)."""

    event_id: Key = Field(description="Idempotency key; see ``new_event_id``.")
    event_time: int = Field(
        ge=0, le=MAX_EVENT_TIME_MS, description="Milliseconds since the epoch (UTC)."
    )

    @field_validator("event_time", mode="before")
    @classmethod
    def _datetime_to_ms(cls, value: Any) -> Any:
        return _to_ms(value) if isinstance(value, datetime) else value

    @classmethod
    def new(
        cls,
        *,
        id_from: Sequence[str | int] | None = None,
        event_time: int | datetime | None = None,
        **fields: Any,
    ) -> Self:
        """Build an event, filling ``event_id`` (random, or from ``id_from``) and ``event_time``.

        The contract's name is part of a deterministic id, so the same parts give different ids
        in different contracts.
        """
        event_id = new_event_id(cls.__name__, *id_from) if id_from is not None else new_event_id()
        when = now_ms() if event_time is None else event_time
        return cls(event_id=event_id, event_time=when, **fields)

    def to_record(self) -> dict[str, Any]:
        """The Avro record form (what fastavro writes), in schema field order."""
        return self.model_dump()

    @classmethod
    def from_record(cls, record: dict[str, Any], limits: InputLimits | None = None) -> Self:
        """Inverse of ``to_record``; raises pydantic's ``ValidationError`` on a broken rule (or,
        given ``limits``, a broken limit)."""
        return cls.model_validate(record, context=None if limits is None else {LIMITS: limits})


class TripleOp(StrEnum):
    ADD_TRIPLE = "ADD_TRIPLE"
    REMOVE_TRIPLE = "REMOVE_TRIPLE"
    UPSERT_ENTITY = "UPSERT_ENTITY"
    DELETE_ENTITY = "DELETE_ENTITY"


_TRIPLE_OPS = frozenset({TripleOp.ADD_TRIPLE, TripleOp.REMOVE_TRIPLE})


class TripleChange(Event):
    """One change to one graph (``kg.triples``, keyed by ``graph/head``)."""

    avro_name: ClassVar[str] = "io.streamalign.v1.TripleChange"

    graph: Key = Field(description="A, B or a configured source id (checked by the service).")
    op: TripleOp = Field(description="Kind of change; decides which other fields are used.")
    head: Key = Field(description="Triple subject, or the entity an entity op is about.")
    relation: Key | None = Field(default=None, description="Triple ops only (required).")
    tail: Key | None = Field(default=None, description="Triple ops only (required).")
    entity_type: Key | None = Field(default=None, description="UPSERT_ENTITY only (optional).")
    attributes: Annotated[dict[str, str], AfterValidator(check_attributes)] = Field(
        default_factory=dict, description="UPSERT_ENTITY only, e.g. name."
    )

    @model_validator(mode="after")
    def _fields_match_op(self) -> Self:
        """Reject fields the op does not use: silently ignoring them would hide producer bugs."""
        if self.op in _TRIPLE_OPS:
            if self.relation is None or self.tail is None:
                raise ValueError(f"{self.op} needs relation and tail")
            if self.entity_type is not None or self.attributes:
                raise ValueError(f"{self.op} carries no entity_type or attributes")
            return self
        if self.relation is not None or self.tail is not None:
            raise ValueError(f"{self.op} carries no relation or tail")
        if self.op is TripleOp.DELETE_ENTITY and (self.entity_type is not None or self.attributes):
            raise ValueError("DELETE_ENTITY carries no entity_type or attributes")
        return self

    @property
    def key(self) -> str:
        """Kafka message key ``graph/head``: all changes to one entity stay in order."""
        return f"{self.graph}/{self.head}"

    @classmethod
    def add_triple(cls, graph: str, head: str, relation: str, tail: str, **meta: Any) -> Self:
        """An ADD_TRIPLE; ``meta`` takes ``id_from`` and ``event_time`` as in ``Event.new``."""
        return cls.new(graph=graph, op=TripleOp.ADD_TRIPLE, head=head, relation=relation,
                       tail=tail, **meta)

    @classmethod
    def remove_triple(cls, graph: str, head: str, relation: str, tail: str, **meta: Any) -> Self:
        """A REMOVE_TRIPLE; ``meta`` as in ``add_triple``."""
        return cls.new(graph=graph, op=TripleOp.REMOVE_TRIPLE, head=head, relation=relation,
                       tail=tail, **meta)

    @classmethod
    def upsert_entity(
        cls,
        graph: str,
        head: str,
        entity_type: str | None = None,
        attributes: dict[str, str] | None = None,
        **meta: Any,
    ) -> Self:
        """An UPSERT_ENTITY; ``meta`` as in ``add_triple``."""
        return cls.new(graph=graph, op=TripleOp.UPSERT_ENTITY, head=head,
                       entity_type=entity_type, attributes=attributes or {}, **meta)

    @classmethod
    def delete_entity(cls, graph: str, head: str, **meta: Any) -> Self:
        """A DELETE_ENTITY; ``meta`` as in ``add_triple``."""
        return cls.new(graph=graph, op=TripleOp.DELETE_ENTITY, head=head, **meta)


class Decision(StrEnum):
    MATCH = "MATCH"
    RETRACT = "RETRACT"


class Direction(StrEnum):
    """Which way the triple linking an entity and its evidence neighbour points."""

    OUTGOING = "OUTGOING"
    """The triple is (entity, relation, neighbour)."""
    INCOMING = "INCOMING"
    """The triple is (neighbour, relation, entity)."""


class Evidence(_Frozen):
    """A neighbour pair the cross-graph attention weighted: the *why* of a decision."""

    left_neighbour: Key = Field(description="Neighbour of ``left`` in graph A.")
    right_neighbour: Key = Field(description="Neighbour of ``right`` in graph B.")
    relation_left: Key | None = Field(
        default=None, description="Relation linking left and its neighbour (plain name).")
    relation_right: Key | None = Field(
        default=None, description="Relation linking right and its neighbour (plain name).")
    weight: Finite = Field(description="Cross-graph attention weight of the pair.")
    direction_left: Direction | None = Field(
        default=None, description="Direction of the left triple; None when not recorded.")
    direction_right: Direction | None = Field(
        default=None, description="Direction of the right triple; None when not recorded.")

    @field_validator("direction_left", "direction_right", mode="before")
    @classmethod
    def _unknown_is_unrecorded(cls, value: Any) -> Any:
        """A direction newer than this schema says nothing this reader can use: as unrecorded
        (an explanation detail is not worth refusing the whole event over)."""
        return None if value == UNKNOWN else value


class AlignmentEvent(Event):
    """A change in one pair's alignment (``kg.alignment-events``; ``kg.alignments`` by left)."""

    avro_name: ClassVar[str] = "io.streamalign.v1.AlignmentEvent"

    left: Key = Field(description="Entity key in graph A.")
    right: Key = Field(description="Entity key in graph B.")
    decision: Decision = Field(description="The new decision.")
    score: Finite = Field(description="Score under ``model_version``.")
    previous_decision: Decision | None = Field(default=None, description="Decision replaced.")
    previous_score: Finite | None = Field(default=None, description="Its score.")
    model_version: Key = Field(description="Model artifact version that scored the pair.")
    evidence: tuple[Evidence, ...] = Field(default=(), description="Top neighbour pairs.")
    cause: tuple[Key, ...] = Field(
        default=(), description="event_id values of the inputs (triple changes, labels) that "
        "caused the decision; event_time is the latest of their times.")
    decided_at: int | None = Field(
        default=None, ge=0, le=MAX_EVENT_TIME_MS,
        description="When the service made the decision, ms since the epoch (null: not recorded).")

    @field_validator("decided_at", mode="before")
    @classmethod
    def _decided_to_ms(cls, value: Any) -> Any:
        return _to_ms(value) if isinstance(value, datetime) else value

    @model_validator(mode="after")
    def _consistent_history(self) -> Self:
        """A previous score without a previous decision (or vice versa) is meaningless, and only
        a live MATCH can be retracted."""
        if (self.previous_decision is None) != (self.previous_score is None):
            raise ValueError("previous_decision and previous_score are both set or both null")
        if self.decision is Decision.RETRACT and self.previous_decision is not Decision.MATCH:
            raise ValueError("a RETRACT replaces a MATCH")
        return self


EvidenceFields = tuple[str, str, str | None, str | None, float, Direction | None,
                       Direction | None]
"""An ``Evidence``'s values in its fields' (and schema's) order."""


class CheckedRecord(dict[str, Any]):
    """A record :func:`alignment_record` built: every value of the exact type the schema's
    ``quick_check`` passes (``str``, ``int`` in range, ``float``, enum members, tuples of
    those and of such records), so an encode need not check it against the schema again."""


def alignment_record(event_id: str, event_time: int, left: str, right: str, retract: bool,
                     score: float, previous_score: float | None, model_version: str,
                     evidence: Sequence[EvidenceFields], cause: Sequence[str],
                     decided_at: int) -> CheckedRecord | None:
    """The record ``AlignmentEvent(...).to_record()`` gives for these values — equal dicts
    in the same order, so the same encoded bytes — without building the models, or ``None``
    where a value is not of the exact plain type the model keeps as it is or breaks one of its
    rules (then build the model: it raises, or normalises the value). A bulk refresh's events
    built as models, validated again by the encode and dumped twice took 128 µs of CPU an
    event against 58 µs this way (decision 0099); the rules below are the models' (``Key``,
    ``Finite``, the time ranges, ``_consistent_history``), the types those ``quick_check``
    accepts."""
    if not (_key(event_id) and _key(left) and _key(right) and _key(model_version)
            and _ms(event_time) and _ms(decided_at) and _finite(score)
            and (previous_score is None or _finite(previous_score))
            and (previous_score is not None or not retract)
            and _keys(cause)):
        return None
    rows = []
    for values in evidence:
        if len(values) != 7 or not _plain_evidence(*values):
            return None
        rows.append(dict(zip(_EVIDENCE_FIELDS, values, strict=True)))
    return CheckedRecord(
        event_id=event_id, event_time=event_time, left=left, right=right,
        decision=Decision.RETRACT if retract else Decision.MATCH, score=score,
        previous_decision=None if previous_score is None else Decision.MATCH,
        previous_score=previous_score, model_version=model_version, evidence=tuple(rows),
        cause=tuple(cause), decided_at=decided_at)


_EVIDENCE_FIELDS = tuple(Evidence.model_fields)


def _key(value: object) -> bool:
    return type(value) is str and value != ""


def _keys(values: Sequence[object]) -> bool:
    """Every value a non-empty ``str`` (a ``join`` refuses anything else, in one C loop: an
    event names up to 32 cause ids)."""
    try:
        "".join(values)  # type: ignore[arg-type]
    except TypeError:
        return False
    return "" not in values


def _ms(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_EVENT_TIME_MS


def _finite(value: object) -> bool:
    return type(value) is float and math.isfinite(value)


def _plain_evidence(left: object, right: object, relation_left: object, relation_right: object,
                    weight: object, direction_left: object, direction_right: object) -> bool:
    return (_key(left) and _key(right) and _finite(weight)
            and (relation_left is None or _key(relation_left))
            and (relation_right is None or _key(relation_right))
            and (direction_left is None or type(direction_left) is Direction)
            and (direction_right is None or type(direction_right) is Direction))


class LabelValue(StrEnum):
    MATCH = "MATCH"
    NON_MATCH = "NON_MATCH"


class Label(Event):
    """A known answer for a pair (``kg.labels``): training data and a decision override."""

    avro_name: ClassVar[str] = "io.streamalign.v1.Label"

    left: Key = Field(description="Entity key in graph A.")
    right: Key = Field(description="Entity key in graph B.")
    label: LabelValue = Field(description="Whether the pair is the same real-world thing.")
    source: Key = Field(description="'seed' or a reviewer id.")


class DeadLetter(Event):
    """An input message that could not be used (``kg.triples.dlq``, ``kg.labels.dlq``), and why."""

    avro_name: ClassVar[str] = "io.streamalign.v1.DeadLetter"

    original: Annotated[bytes, Strict()] = Field(description="The rejected value, byte for byte.")
    error_class: Key = Field(description="Exception class or decode reason.")
    error_message: str = Field(description="Human-readable description of the failure.")
    topic: Key = Field(description="Source topic.")
    partition: int = Field(ge=0, le=2**31 - 1, description="Source partition (Avro int).")
    offset: int = Field(ge=0, le=2**63 - 1, description="Source offset (Avro long).")


CONTRACTS: tuple[type[Event], ...] = (TripleChange, AlignmentEvent, Label, DeadLetter)
"""Every contract, in the order of DESIGN.md section 2."""
