"""The topic audit (pure): what counts as an error, what as a warning, and why."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_check import TopicState, audit_topic
from stream_align.service.topic_settings import CompactedTopic, TopicSettings
from stream_align.service.topics import topic_plan

KAFKA = KafkaSettings(partitions=2)
PLAN = {topic.role: topic for topic in topic_plan(KAFKA)}


def _as_planned(role: str, replicas: int = 3, **config: str) -> TopicState:
    return TopicState(2, replicas, {**PLAN[role].config, **config})


def test_topics_as_planned_have_no_findings():
    for role in PLAN:
        assert audit_topic(PLAN[role], _as_planned(role)) == []


def test_defaults_keep_inputs_forever_and_compact_alignments():
    assert PLAN["triples"].config == {"cleanup.policy": "delete", "retention.ms": "-1",
                                      "retention.bytes": "-1"}
    assert PLAN["labels"].config == PLAN["triples"].config
    assert PLAN["alignments"].config["cleanup.policy"] == "compact"
    assert PLAN["alignment_events"].replication_factor == -1  # the broker's default


def test_missing_topic_and_uncompacted_alignments_are_errors():
    [missing] = audit_topic(PLAN["labels"], None)
    assert missing.level == "error" and "stream-align topics" in missing.message
    [wrong] = audit_topic(PLAN["alignments"], _as_planned("alignments",
                                                          **{"cleanup.policy": "delete"}))
    assert wrong.level == "error" and "must include compact" in wrong.message


def test_inputs_that_cannot_rebuild_the_state_warn():
    [finite] = audit_topic(PLAN["triples"], _as_planned("triples", **{"retention.ms": "1000"}))
    assert finite.level == "warning" and finite.message.startswith("retention.ms=1000: a "
                                                                   "replacement state volume")
    [compacted] = audit_topic(PLAN["labels"], _as_planned("labels",
                                                          **{"cleanup.policy": "compact"}))
    assert compacted.level == "warning" and "keeps one record per key" in compacted.message


def test_replication_findings():
    one = audit_topic(PLAN["triples"], _as_planned("triples", replicas=1))
    assert [f.message for f in one] == ["has 1 replica: losing one broker loses the topic "
                                        "(set kafka.replication_factor)"]
    [blocked] = audit_topic(PLAN["dead_letters"], _as_planned(
        "dead_letters", replicas=2, **{"min.insync.replicas": "3"}))
    assert blocked.level == "error"
    explicit = topic_plan(KAFKA.model_copy(update={"replication_factor": 3}))[0]
    [fewer] = audit_topic(explicit, _as_planned("triples", replicas=2))
    assert fewer.message == "has 2 replicas, configured 3"


def test_unreadable_configs_and_other_differences_warn():
    state = TopicState(5, 3, None)
    messages = [f.message for f in audit_topic(PLAN["triples"], state)]
    assert messages[0] == "has 5 partitions, configured 2"
    assert "DESCRIBE_CONFIGS" in messages[1]
    [segment] = audit_topic(PLAN["alignments"], _as_planned("alignments",
                                                            **{"segment.ms": "1"}))
    assert segment.message == "segment.ms is 1, configured 600000"


def test_topic_settings_refuse_nonsense():
    with pytest.raises(ValidationError, match="must include compact"):
        CompactedTopic(cleanup_policy="delete")
    with pytest.raises(ValidationError, match="replication factor"):
        TopicSettings(replication_factor=0)
    with pytest.raises(ValidationError):
        KafkaSettings(replication_factor=0)
