"""Per-topic settings: partitions, replication, and the retention that decides what can be rebuilt.

The RocksDB state is derived from the input topics: a replacement state volume is rebuilt by
re-reading ``kg.triples`` and ``kg.labels`` from the beginning, so they must keep every record.
Log compaction cannot do that with their keys: ``kg.triples`` is keyed ``graph/head`` and one
head has many triples (compaction would keep only its last record), ``kg.labels`` is keyed by
the left entity and one entity can have several labelled pairs. The rule, and the default of
``stream-align topics``: inputs use ``cleanup.policy=delete`` with infinite retention
(``retention.ms = retention.bytes = -1``); a compacted input is only safe if every producer
keys it per triple (``graph/head/relation/tail``), which this project's producers do not.
``kg.alignments`` is the *current* alignment per left entity and must be compacted.

One class per topic role, so a partial override (``[kafka.topics.alignments] partitions = 6``)
keeps that role's other defaults instead of falling back to a generic topic.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

CleanupPolicy = Literal["delete", "compact", "compact,delete"]


def _not_zero(value: int) -> int:
    if value == 0:
        raise ValueError("replication factor must be -1 (the broker's default) or >= 1")
    return value


ReplicationFactor = Annotated[int, Field(ge=-1), AfterValidator(_not_zero)]


class TopicSettings(BaseModel):
    """How one topic is created and what the start-up check expects of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    partitions: int | None = Field(
        None, ge=1, description="Partitions when created; unset: kafka.partitions.")
    replication_factor: ReplicationFactor | None = Field(
        None, description="Replicas when created; unset: kafka.replication_factor; "
        "-1: the broker's default.replication.factor.")
    min_insync_replicas: int | None = Field(
        None, ge=1, description="min.insync.replicas (acks=all writes fail below it); unset: "
        "the broker's default. With 3 replicas, 2 survives one broker loss.")
    cleanup_policy: CleanupPolicy = Field("delete", description="cleanup.policy.")
    retention_ms: int | None = Field(
        None, ge=-1, description="retention.ms; -1 keeps every record; unset: broker default.")
    retention_bytes: int | None = Field(
        None, ge=-1, description="retention.bytes per partition; -1: no size limit; unset: "
        "broker default.")
    extra_config: dict[str, str] = Field(
        default_factory=dict, description="Other topic configs set at creation "
        "(e.g. segment.ms), checked at start-up like the rest.")

    def topic_config(self) -> dict[str, str]:
        """The Kafka topic configs these settings set (unset ones are left to the broker)."""
        config = {"cleanup.policy": self.cleanup_policy, **self.extra_config}
        for key, value in (("min.insync.replicas", self.min_insync_replicas),
                           ("retention.ms", self.retention_ms),
                           ("retention.bytes", self.retention_bytes)):
            if value is not None:
                config[key] = str(value)
        return config


class InputTopic(TopicSettings):
    """An input the state is rebuilt from: by default every record is kept forever."""

    retention_ms: int | None = Field(
        -1, ge=-1, description="retention.ms; -1 (default) keeps every record, so a lost state "
        "volume can be rebuilt by re-reading the topic; a finite value warns at start-up.")
    retention_bytes: int | None = Field(
        -1, ge=-1, description="retention.bytes per partition; -1 (default): no size limit.")


class CompactedTopic(TopicSettings):
    """The current-state output: compacted, a tombstone retracts a key."""

    cleanup_policy: CleanupPolicy = Field(
        "compact", description="cleanup.policy; must include compact (current value per key).")
    extra_config: dict[str, str] = Field(
        default_factory=lambda: {"min.cleanable.dirty.ratio": "0.1", "segment.ms": "600000"},
        description="Other topic configs; by default compaction runs often (10 min segments).")

    @model_validator(mode="after")
    def _compacted(self) -> CompactedTopic:
        if "compact" not in self.cleanup_policy:
            raise ValueError("the alignments topic holds the current value per key: "
                             "cleanup_policy must include compact")
        return self


class TopicLayout(BaseModel):
    """Settings of every topic of the flow, by role (the names are ``kafka.*_topic``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    triples: InputTopic = Field(default_factory=InputTopic,
                                description="kg.triples: delete policy, infinite retention.")
    labels: InputTopic = Field(default_factory=InputTopic,
                               description="kg.labels: delete policy, infinite retention.")
    alignment_events: TopicSettings = Field(
        default_factory=TopicSettings, description="kg.alignment-events: the append-only log; "
        "broker-default retention.")
    alignments: CompactedTopic = Field(default_factory=CompactedTopic,
                                       description="kg.alignments: compacted.")
    dead_letters: TopicSettings = Field(
        default_factory=TopicSettings, description="kg.triples.dlq: broker-default retention.")
    label_dead_letters: TopicSettings = Field(
        default_factory=TopicSettings, description="kg.labels.dlq: broker-default retention.")
