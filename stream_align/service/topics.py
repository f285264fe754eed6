"""Create the topics of the flow with their configured settings, and check them at start-up.

``stream-align topics`` creates what is missing (the only command that needs CREATE) and waits
until the service's consumer group has a coordinator; the service only *checks* (DESCRIBE and
DESCRIBE_CONFIGS) and refuses to start on an error, so it never depends on a broker
auto-creating a topic with the broker's defaults (one replica, seven days of retention: a lost
state volume would then rebuild only the last week). The settings
per topic and why the inputs keep every record: :mod:`stream_align.service.topic_settings`.
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, TopicMetadata

from stream_align.service.connection import cluster_topics
from stream_align.service.errors import KafkaUnavailableError, TopicSetupError
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_check import Finding, PlannedTopic, TopicState, audit_topic

#: Topic role (a ``TopicLayout`` field) → the ``KafkaSettings`` field naming that topic.
ROLES = {
    "triples": "triples_topic",
    "labels": "labels_topic",
    "alignment_events": "alignment_events_topic",
    "alignments": "alignments_topic",
    "dead_letters": "dead_letter_topic",
    "label_dead_letters": "labels_dead_letter_topic",
}


def topic_plan(settings: KafkaSettings) -> list[PlannedTopic]:
    """Every topic of the flow with the partitions, replication and configs it should have."""
    plan = []
    for role, name_field in ROLES.items():
        spec = getattr(settings.topics, role)
        plan.append(PlannedTopic(
            name=getattr(settings, name_field), role=role,
            partitions=spec.partitions or settings.partitions,
            replication_factor=spec.replication_factor or settings.replication_factor,
            config=spec.topic_config()))
    return plan


def _existing(settings: KafkaSettings, timeout: float
              ) -> tuple[AdminClient, dict[str, TopicMetadata]]:
    """An admin client and the cluster's topics (an authentication error fails at once).

    A listing names only topics that exist, so a listed topic with an error is one still being
    set up (no leader yet, just after ``stream-align topics`` created it): read again until the
    flow's topics are ready or ``timeout`` passes, so a check run right after the creation does
    not report them missing.
    """
    admin, metadata = cluster_topics(settings, timeout)
    deadline = time.monotonic() + timeout
    names = {topic.name for topic in topic_plan(settings)}
    while (any(metadata.topics[n].error is not None for n in names & metadata.topics.keys())
           and time.monotonic() < deadline):
        time.sleep(0.2)
        metadata = admin.list_topics(timeout=max(deadline - time.monotonic(), 0.01))
    return admin, dict(metadata.topics)


def ensure_topics(settings: KafkaSettings, timeout: float = 30.0) -> list[str]:
    """Create missing topics with their configured settings; return the names created now.

    Existing topics are left as they are (:func:`check_topics` reports how they differ).
    """
    admin, existing = _existing(settings, timeout)
    await_coordinator(admin, settings.consumer_group, timeout)
    wanted = [NewTopic(topic.name, topic.partitions, topic.replication_factor,
                       config=dict(topic.config))
              for topic in topic_plan(settings) if topic.name not in existing]
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


#: Answers while a group's coordinator is not there yet (a new cluster's ``__consumer_offsets``).
COORDINATOR_PENDING = frozenset({KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.NOT_COORDINATOR,
                                 KafkaError.COORDINATOR_LOAD_IN_PROGRESS, KafkaError._TIMED_OUT})


def await_coordinator(admin: AdminClient, group: str, timeout: float = 30.0) -> bool:
    """Wait until the broker describes consumer ``group``, i.e. its coordinator is up; return
    whether it did.

    A new cluster creates ``__consumer_offsets`` at the first group lookup and answers "not
    coordinator" until it has loaded it; a joining consumer asks again about once a second, so
    the service's first join on a fresh broker waited ≈ 3 s for it, and its backlog with it
    (decision 0079). Setting up the cluster is where that wait belongs. Best effort: another
    error (no DESCRIBE on the group) or ``timeout`` changes nothing, the service joins as
    before."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            admin.describe_consumer_groups([group], request_timeout=max(left, 0.1))[group]\
                .result()
            return True
        except KafkaException as exc:
            if exc.args[0].code() not in COORDINATOR_PENDING or left <= 0:
                return False
        time.sleep(0.1)


def describe_topics(settings: KafkaSettings, timeout: float = 30.0
                    ) -> dict[str, TopicState | None]:
    """Partitions, replicas and configs of every topic of the flow (None: does not exist)."""
    admin, existing = _existing(settings, timeout)
    states: dict[str, TopicState | None] = {}
    resources = {}
    for topic in topic_plan(settings):
        metadata = existing.get(topic.name)
        if metadata is None or metadata.error is not None:
            states[topic.name] = None
            continue
        partitions = metadata.partitions
        replicas = min((len(p.replicas) for p in partitions.values()), default=0)
        states[topic.name] = TopicState(len(partitions), replicas, None)
        resources[topic.name] = ConfigResource(ConfigResource.Type.TOPIC, topic.name)
    if resources:
        futures = admin.describe_configs(list(resources.values()), request_timeout=timeout)
        for name, resource in resources.items():
            try:
                entries = futures[resource].result(timeout=timeout)
            except KafkaException:
                continue  # not authorised to describe: the audit says so
            state = states[name]
            if state is not None:
                states[name] = state._replace(
                    config={key: entry.value for key, entry in entries.items()})
    return states


def check_topics(settings: KafkaSettings, timeout: float = 30.0) -> list[Finding]:
    """Findings for every topic of the flow, errors first."""
    states = describe_topics(settings, timeout)
    findings = [finding for topic in topic_plan(settings)
                for finding in audit_topic(topic, states[topic.name])]
    return sorted(findings, key=lambda finding: finding.level != "error")


def require_topics(settings: KafkaSettings, timeout: float = 30.0) -> list[Finding]:
    """The start-up check: raise ``TopicSetupError`` on any error; return the warnings."""
    findings = check_topics(settings, timeout)
    errors = [str(finding) for finding in findings if finding.level == "error"]
    if errors:
        raise TopicSetupError("topic check failed: " + "; ".join(errors))
    return findings
