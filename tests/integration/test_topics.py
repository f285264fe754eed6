"""Topic creation against the real broker."""

from confluent_kafka.admin import AdminClient, ConfigResource

from stream_align.service.settings import KafkaSettings
from stream_align.service.topics import ensure_topics, topic_configs


def test_ensure_topics_creates_all_once_and_compacts_alignments(kafka_settings: KafkaSettings):
    created = ensure_topics(kafka_settings)
    assert sorted(created) == sorted(topic_configs(kafka_settings))
    assert ensure_topics(kafka_settings) == []

    admin = AdminClient(kafka_settings.client_config())
    resource = ConfigResource(ConfigResource.Type.TOPIC, kafka_settings.alignments_topic)
    config = admin.describe_configs([resource])[resource].result(timeout=30)
    assert config["cleanup.policy"].value == "compact"
    topics = admin.list_topics(timeout=30).topics
    assert len(topics[kafka_settings.triples_topic].partitions) == kafka_settings.partitions
