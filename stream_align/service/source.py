"""The input topics as a typed source whose resume state lives in the state store.

Offsets are *not* taken from the consumer group: on every assignment each partition is seeked to
the next offset the store committed together with the state it produced (or the beginning, for
a partition never seen). The group still coordinates who reads which partition, and offsets are
also committed to Kafka (asynchronously) so lag monitoring works — but only as a mirror.
"""

from __future__ import annotations

from collections.abc import Callable

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message
from confluent_kafka import TopicPartition as KafkaPartition

from stream_align.service.errors import KafkaUnavailableError
from stream_align.service.settings import KafkaSettings
from stream_align.store.records import TopicPartition

ResumeOffset = Callable[[TopicPartition], int | None]
MAX_POLL_INTERVAL_MS = 1_800_000
"""How long the group waits between polls before dropping this member (librdkafka: 5 min)."""
POLL_CHUNK = 10_000
"""Records asked of the consumer per read; reads repeat while they come back full."""
FILL_WAIT_S = 0.05
"""How long a read after a batch's first record waits for a full chunk. A read waits for all
it asks or its timeout, so this is added to every batch at a steady low rate (it was the
whole poll timeout, 200 ms); under a backlog the fetched queue fills a chunk well within it."""


class StoreResumedSource:
    """A consumer-group member that resumes every partition from the store's offsets."""

    def __init__(self, kafka: KafkaSettings, topics: list[str], resume: ResumeOffset) -> None:
        self._resume = resume
        self.assigned: set[TopicPartition] = set()
        config = {
            **kafka.client_config(), "group.id": kafka.consumer_group,
            "enable.auto.commit": False, "auto.offset.reset": "earliest",
            "isolation.level": "read_committed", "enable.partition.eof": False,
            # a bulk micro-batch may take minutes between polls; the store, not the group,
            # holds the offsets, so a member dropped for it would only lose time
            "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
        }
        if kafka.group_instance_id:
            config["group.instance.id"] = kafka.group_instance_id
        self._consumer = Consumer(config)
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        for tp in partitions:
            stored = self._resume(TopicPartition(tp.topic, tp.partition))
            tp.offset = OFFSET_BEGINNING if stored is None else stored
            self.assigned.add(TopicPartition(tp.topic, tp.partition))
        consumer.assign(partitions)

    def _on_revoke(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        for tp in partitions:
            self.assigned.discard(TopicPartition(tp.topic, tp.partition))
        consumer.unassign()

    def poll(self, max_records: int, timeout: float) -> list[Message]:
        """What has arrived, up to ``max_records``: waits up to ``timeout`` for the first
        record, then keeps reading while reads come back full (:data:`FILL_WAIT_S` each), so a
        batch under a backlog is full and one at a steady rate is what arrived meanwhile.
        Raises on broker errors (not on end of partition)."""
        good, _ = self._read(1, timeout)
        while good and len(good) < max_records:
            want = min(max_records - len(good), POLL_CHUNK)
            more, read = self._read(want, FILL_WAIT_S)
            good += more
            if read < want:
                break
        return good

    def _read(self, want: int, timeout: float) -> tuple[list[Message], int]:
        """Good records of one read, and how many came back in all."""
        messages = self._consumer.consume(want, timeout=timeout)
        good = []
        for msg in messages:
            error = msg.error()
            if error is None:
                good.append(msg)
            elif error.code() != KafkaError._PARTITION_EOF:
                raise KafkaUnavailableError(f"consume failed: {error.str()}")
        return good, len(messages)

    def mirror_offsets(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit the store's offsets to the group too (for lag metrics; not for resuming)."""
        if not offsets:
            return
        parts = [KafkaPartition(tp.topic, tp.partition, off) for tp, off in offsets.items()]
        try:
            self._consumer.commit(offsets=parts, asynchronous=True)
        except KafkaException as exc:  # a mirror: losing one commit loses nothing
            if exc.args[0].code() != KafkaError._NO_OFFSET:
                raise KafkaUnavailableError(f"offset mirror failed: {exc}") from exc

    def lag(self) -> dict[TopicPartition, int]:
        """Records not yet consumed per assigned partition (high watermark − position).

        Asks the broker for the watermarks (one request per partition, every
        ``runner.lag_interval_s``): the consumer's cached ones only move when it fetches, so an
        idle or stuck consumer would report a stale, too-small lag. A partition nothing was
        fetched from yet counts from where it will start: the stored offset, or the beginning.
        """
        lag = {}
        positions = self._consumer.position(
            [KafkaPartition(tp.topic, tp.partition) for tp in self.assigned])
        for tp in positions:
            try:
                marks = self._consumer.get_watermark_offsets(tp, timeout=2.0, cached=False)
            except KafkaException:  # a metric: skip this round rather than stop the service
                continue
            if marks is None:
                continue
            ours = TopicPartition(tp.topic, tp.partition)
            low, high = marks
            start = tp.offset if tp.offset >= 0 else self._resume(ours)
            lag[ours] = max(0, high - (low if start is None else max(start, low)))
        return lag

    def close(self) -> None:
        self._consumer.close()
