"""Create the topics stream-align reads and writes, with the configs the design needs.

``kg.alignments`` holds the *current* alignment per left entity, so it is log-compacted (a
tombstone retracts a match); every other topic is a plain retained log. Creation is idempotent.
"""

from __future__ import annotations

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from stream_align.service.errors import KafkaUnavailableError
from stream_align.service.kafka_client import BROKERS, client_config
from stream_align.service.settings import KafkaSettings

COMPACTED = {"cleanup.policy": "compact", "min.cleanable.dirty.ratio": "0.1",
             "segment.ms": "600000"}
RETAINED = {"cleanup.policy": "delete"}


def topic_configs(settings: KafkaSettings) -> dict[str, dict[str, str]]:
    """Topic name → config for every topic of the flow."""
    return {
        settings.triples_topic: RETAINED,
        settings.labels_topic: RETAINED,
        settings.alignment_events_topic: RETAINED,
        settings.alignments_topic: COMPACTED,
        settings.dead_letter_topic: RETAINED,
        settings.labels_dead_letter_topic: RETAINED,
    }


def ensure_topics(settings: KafkaSettings, timeout: float = 30.0) -> list[str]:
    """Create missing topics; return the names that were created now."""
    admin = AdminClient(client_config(settings))
    try:
        existing = set(admin.list_topics(timeout=timeout).topics)
    except KafkaException as exc:
        raise KafkaUnavailableError(f"cannot reach {settings.bootstrap_servers}: {exc}") from exc
    BROKERS.reachable()
    wanted = [
        NewTopic(name, settings.partitions, settings.replication_factor, config=dict(config))
        for name, config in topic_configs(settings).items()
        if name not in existing
    ]
    if not wanted:
        return []
    created = []
    for name, future in admin.create_topics(wanted, request_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise KafkaUnavailableError(f"creating topic {name}: {exc}") from exc
    return created
