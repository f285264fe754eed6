"""Kafka settings: where the broker is, which topics carry what, how they are created.

A frozen, typed model: every field has a default and a description; the CLI fills it from a
config file and ``STREAM_ALIGN_KAFKA__<FIELD>`` environment variables (nothing below the CLI
reads the environment). Secrets are ``SecretStr`` and print masked.
"""

from __future__ import annotations

import socket

from pydantic import BaseModel, ConfigDict, Field

from stream_align.service.kafka_security import KafkaSecurity
from stream_align.service.topic_settings import ReplicationFactor, TopicLayout


class KafkaSettings(KafkaSecurity):
    """Connection and topic layout of the Kafka cluster stream-align lives in.

    The connection and its security (TLS, mTLS, SASL, the librdkafka passthrough) are in
    ``KafkaSecurity``; ``client_config`` builds every client's librdkafka properties.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    triples_topic: str = Field("kg.triples", description="Input: TripleChange events.")
    labels_topic: str = Field("kg.labels", description="Input: seed and reviewer Labels.")
    alignment_events_topic: str = Field(
        "kg.alignment-events", description="Output: every alignment change (append-only log)."
    )
    alignments_topic: str = Field(
        "kg.alignments", description="Output: current alignment per left entity (compacted)."
    )
    dead_letter_topic: str = Field(
        "kg.triples.dlq", description="Output: kg.triples records that could not be processed."
    )
    labels_dead_letter_topic: str = Field(
        "kg.labels.dlq", description="Output: kg.labels records that could not be processed."
    )
    partitions: int = Field(3, ge=1, description="Partitions for topics stream-align creates.")
    replication_factor: ReplicationFactor = Field(
        -1, description="Replication of created topics; -1: the broker's "
        "default.replication.factor (production clusters set 3). A topic's own setting wins.")
    topics: TopicLayout = Field(
        default_factory=TopicLayout, description="Per-topic partitions, replication, "
        "min.insync.replicas, cleanup policy and retention (kafka.topics.<role>.*).")
    consumer_group: str = Field("stream-align", description="Consumer group id.")
    group_instance_id: str = Field(
        "auto", description="Static group membership id: a restarted replica takes its "
        "partitions back at once instead of waiting out the dead member's session (45-68 s "
        "measured). 'auto': the host name (a StatefulSet pod's name, stable across restarts); "
        "'' : dynamic membership (two replicas on one host must not share an id)."
    )

    def static_member_id(self) -> str | None:
        """``group.instance.id`` for the service's consumer, or None for dynamic membership."""
        if self.group_instance_id == "auto":
            return socket.gethostname()
        return self.group_instance_id or None


class RunnerSettings(BaseModel):
    """How the service loop batches and where it finds its model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model_path: str = Field("model", description="Directory of the trained model artifact.")
    batch_max_records: int = Field(
        250_000, ge=1,
        description=("Most input records applied in one micro-batch / transaction. A batch takes "
                     "what has arrived, so under a backlog batches grow to this and the engine "
                     "amortises its work (DBP15K zh_en whole replay: 107 s at 250,000, 180 s at "
                     "50,000, about 37 min at 2,000); at a steady rate they stay small."),
    )
    trim_heap: bool = Field(
        True,
        description=("After each batch, return the heap's free pages to the OS (glibc "
                     "malloc_trim): what a batch freed otherwise stays resident under the next "
                     "batch's transients (decision 0050). False: leave the allocator alone."),
    )
    trim_heap_above_bytes: int = Field(
        64 << 20, ge=0,
        description=("With trim_heap: trim only once the resident set has grown by more than "
                     "this since the last trim. A small batch's freed pages are what the next "
                     "one allocates again: trimmed after every batch they were faulted back in "
                     "(≈ 12 ms of system CPU a 10-insert batch on DBP15K zh_en, decision 0107); "
                     "a bulk batch's hundreds of MB still go back. 0: after every batch."),
    )
    mmap_threshold_bytes: int = Field(
        1 << 20, ge=0,
        description=("Allocations of at least this many bytes get their own mmap and leave RSS "
                     "when freed (glibc mallopt M_MMAP_THRESHOLD, set at start-up): a batch's "
                     "freed arrays no longer stay in the heap under its later transients, and "
                     "glibc's dynamic threshold (up to 32 MiB) is off. Costs page faults on "
                     "large allocations (decision 0065). 0: glibc's dynamic threshold."),
    )
    steady_mmap_threshold_bytes: int = Field(
        32 << 20, ge=0,
        description=("The mmap threshold once the bulk load is done (the first batch that "
                     "read less than batch_max_records and left no work deferred): a steady "
                     "call's transients come from the heap and stay for the next call instead "
                     "of being mapped and faulted in afresh; the load's peak is held by "
                     "mmap_threshold_bytes before it (decision 0119). 0: keep "
                     "mmap_threshold_bytes."),
    )
    steady_trim_threshold_bytes: int = Field(
        64 << 20, ge=0,
        description=("With steady_mmap_threshold_bytes: free() gives the heap's top back to "
                     "the OS only past this many free bytes (glibc mallopt M_TRIM_THRESHOLD, "
                     "128 KiB otherwise once a threshold is fixed), so a call's freed top is "
                     "not faulted in again by the next; trim_heap still returns a grown heap "
                     "after a batch (decision 0119). 0: glibc's."),
    )
    commit_slice_rows: int = Field(
        32_768, ge=1,
        description=("Most candidate list or pair rows one transaction commits: a batch that "
                     "writes more (a bulk refresh rewrites every list) commits them first in "
                     "slices of this many, marked not current until the batch's own commit, so "
                     "the commit holds a slice of them, not all (≈ 16 MB of list rows at "
                     "32,768; decision 0086). A crash between rebuilds the lists on restart."),
    )
    commit_slice_outbox: int = Field(
        4_096, ge=1,
        description=("Most outbox entries (an alignment event's records, a dead letter) one "
                     "transaction commits: a batch with more (a bulk refresh's events) appends "
                     "them first in slices of this many, not published until the batch's own "
                     "commit, so the commit holds a slice of them, not all (≈ 9 MB at 4,096; "
                     "decision 0090). A crash between deletes them on restart."),
    )
    poll_timeout_s: float = Field(
        0.2, gt=0, description="How long one poll waits for the first record of a batch."
    )
    lag_interval_s: float = Field(5.0, gt=0, description="How often consumer lag is measured.")
    input_id_window: int = Field(
        1_000_000, ge=0,
        description=("How many applied input event_ids are remembered (RocksDB, ~110 bytes each, "
                     "oldest forgotten first): within it an exact re-send is a no-op and an id "
                     "reused with other content is dead-lettered (conflicting_event_id). "
                     "0 disables the check."),
    )
