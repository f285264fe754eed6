"""Topic creation and the start-up topic check against the real broker."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from stream_align.cli import main
from stream_align.service.errors import TopicSetupError
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_settings import InputTopic, TopicLayout
from stream_align.service.topics import (
    check_topics,
    ensure_topics,
    require_topics,
    topic_plan,
)

pytestmark = pytest.mark.integration
BROKER_TOOL = Path(__file__).resolve().parents[2] / "tools" / "kafka_broker.py"


def _visible(admin: AdminClient, topics: list[str], within_s: float = 60.0) -> None:
    """Wait until the broker's metadata lists ``topics``: a created topic reaches the metadata
    a moment after the controller accepts it (seconds on a loaded machine)."""
    deadline = time.monotonic() + within_s
    while not set(topics) <= set(admin.list_topics(timeout=10).topics):
        assert time.monotonic() < deadline, f"topics not visible after {within_s} s: {topics}"
        time.sleep(0.2)


def _configs(admin: AdminClient, topic: str) -> dict[str, str]:
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource])[resource].result(timeout=30)
    return {key: entry.value for key, entry in entries.items()}


def test_topics_are_created_with_their_configured_settings(kafka_settings: KafkaSettings):
    labels = InputTopic(partitions=1, min_insync_replicas=1, retention_ms=86_400_000)
    kafka = kafka_settings.model_copy(update={"topics": TopicLayout(labels=labels)})
    created = ensure_topics(kafka)
    assert sorted(created) == sorted(topic.name for topic in topic_plan(kafka))
    assert ensure_topics(kafka) == []

    admin = AdminClient(kafka.client_config())
    triples = _configs(admin, kafka.triples_topic)
    assert (triples["cleanup.policy"], triples["retention.ms"], triples["retention.bytes"]) == (
        "delete", "-1", "-1")
    alignments = _configs(admin, kafka.alignments_topic)
    assert alignments["cleanup.policy"] == "compact"
    assert alignments["min.cleanable.dirty.ratio"] == "0.1"
    label_config = _configs(admin, kafka.labels_topic)
    assert (label_config["retention.ms"], label_config["min.insync.replicas"]) == (
        "86400000", "1")
    topics = admin.list_topics(timeout=30).topics
    assert len(topics[kafka.triples_topic].partitions) == kafka.partitions
    assert len(topics[kafka.labels_topic].partitions) == 1

    # Created as configured: the check finds nothing wrong, and warns about what it should:
    # the one-replica dev broker (replication -1: broker default) and the labels' finite
    # retention, which could not rebuild the state.
    findings = require_topics(kafka)
    assert all(finding.level == "warning" for finding in findings)
    retention = [str(f) for f in findings if "retention" in f.message]
    assert retention == [f"{kafka.labels_topic}: retention.ms=86400000: a replacement state "
                         "volume rebuilds only what retention kept; set retention.ms=-1 and "
                         "retention.bytes=-1 (the `stream-align topics` default) or restore "
                         "from `stream-align state backup`"]
    assert {f.topic for f in findings if "1 replica" in f.message} == {
        topic.name for topic in topic_plan(kafka)}


def test_start_up_check_names_what_is_wrong(kafka_settings: KafkaSettings, tmp_path, capsys):
    admin = AdminClient(kafka_settings.client_config())
    wrong = [  # as a broker's auto-creation would make them: delete, seven days
        NewTopic(kafka_settings.triples_topic, 2, 1, config={"retention.ms": "604800000"}),
        NewTopic(kafka_settings.alignments_topic, 2, 1, config={"cleanup.policy": "delete"}),
        NewTopic(kafka_settings.alignment_events_topic, 2, 1),
        NewTopic(kafka_settings.dead_letter_topic, 2, 1, config={"min.insync.replicas": "2"}),
        NewTopic(kafka_settings.labels_dead_letter_topic, 2, 1),
    ]  # and no labels topic at all
    for future in admin.create_topics(wrong).values():
        future.result(timeout=30)
    _visible(admin, [topic.topic for topic in wrong])

    with pytest.raises(TopicSetupError) as error:
        require_topics(kafka_settings)
    message = str(error.value)
    assert f"{kafka_settings.labels_topic}: does not exist" in message
    assert f"{kafka_settings.alignments_topic}: cleanup.policy is 'delete'" in message
    assert f"{kafka_settings.dead_letter_topic}: min.insync.replicas 2 > 1 replicas" in message
    warnings = [str(f) for f in check_topics(kafka_settings) if f.level == "warning"]
    assert any(w.startswith(f"{kafka_settings.triples_topic}: retention.ms=604800000: a "
                            "replacement state volume rebuilds only") for w in warnings)

    config = tmp_path / "c.toml"
    config.write_text("[kafka]\n" + "".join(
        f"{key} = {json.dumps(value)}\n" for key, value in kafka_settings.model_dump().items()
        if isinstance(value, str | int)))
    assert main(["topics", "--check", "--config", str(config)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["created"] == [] and len(report["errors"]) == 3



def test_topics_wait_for_the_consumer_groups_coordinator(tmp_path, kafka_settings: KafkaSettings):
    """On a new cluster, ``ensure_topics`` leaves the service's group with a coordinator: the
    broker made ``__consumer_offsets`` at the group lookup, and the group's description answers
    at the first request. Before, the service's first join made the lookup and waited ≈ 3 s for
    the topic to load (decision 0079)."""
    tool = [sys.executable, str(BROKER_TOOL)]
    spec = importlib.util.spec_from_file_location("kafka_broker", BROKER_TOOL)
    broker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(broker)
    port = broker.free_port_pair()
    subprocess.run([*tool, "start", "--port", str(port), "--data-dir", str(tmp_path)], check=True)
    try:
        kafka = kafka_settings.model_copy(update={"bootstrap_servers": f"127.0.0.1:{port}"})
        admin = AdminClient(kafka.client_config())
        assert "__consumer_offsets" not in admin.list_topics(timeout=30).topics  # a new cluster
        ensure_topics(kafka)
        assert "__consumer_offsets" in admin.list_topics(timeout=30).topics
        described = admin.describe_consumer_groups([kafka.consumer_group], request_timeout=10)
        assert described[kafka.consumer_group].result(timeout=10).group_id == \
            kafka.consumer_group
    finally:
        subprocess.run([*tool, "stop", "--data-dir", str(tmp_path)], check=True)
