"""The input topics as a typed source whose resume state lives in the state store.

Offsets are *not* taken from the consumer group: on every assignment each partition is seeked to
the next offset the store committed together with the state it produced (or the beginning, for
a partition never seen). The group still coordinates who reads which partition, and offsets are
also committed to Kafka (asynchronously) so lag monitoring works — but only as a mirror.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future

import structlog
from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    IsolationLevel,
    KafkaError,
    KafkaException,
    Message,
)
from confluent_kafka import TopicPartition as KafkaPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from stream_align.service.errors import KafkaUnavailableError
from stream_align.service.kafka_client import BROKERS, client_config
from stream_align.service.settings import KafkaSettings
from stream_align.store.records import TopicPartition

log = structlog.get_logger("stream_align.source")
ResumeOffset = Callable[[TopicPartition], int | None]
_Offsets = dict[KafkaPartition, Future]
MAX_POLL_INTERVAL_MS = 1_800_000
"""How long the group waits between polls before dropping this member (librdkafka: 5 min)."""
POLL_CHUNK = 10_000
"""Records asked of the consumer per read; reads repeat while they come back full."""
FILL_WAIT_S = 0.005
"""How long a read after a batch's first record waits for a full chunk. A read waits for all
it asks or its timeout, so this is added to every batch at a steady rate (it was the whole poll
timeout, 200 ms, then 50 ms: a fifth of the 250 ms freshness target at 1,000 inserts/s); under
a backlog the consumer's prefetched queue (librdkafka fetches ahead) fills a chunk at once."""
BACKLOG_WAIT_S = 1.0
"""How long a read waits for records the broker is known to hold (a fetch round trip) when the
prefetched queue ran dry under a backlog. It asks only for what is known to be there, so it
returns as soon as the fetch lands."""
BACKLOG_RECORDS = 80_000
"""A batch this large is a backlog: its tail shorter than a chunk is read too (the zh_en backlog
otherwise left 7,687 of 208,566 records to a second batch whose affected set was 29,776
embeddings). Below it, only a chunk or more known behind keeps a poll reading, so a batch at a
steady rate never waits for records still arriving."""


class StoreResumedSource:
    """A consumer-group member that resumes every partition from the store's offsets."""

    def __init__(self, kafka: KafkaSettings, topics: list[str], resume: ResumeOffset) -> None:
        self._resume = resume
        self.assigned: set[TopicPartition] = set()
        config = client_config(
            kafka, "consumer", **{"group.id": kafka.consumer_group,
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "isolation.level": "read_committed", "enable.partition.eof": False,
                      # a bulk micro-batch may take minutes between polls; the store, not the
                      # group, holds the offsets, so a member dropped for it would only lose time
                      "max.poll.interval.ms": MAX_POLL_INTERVAL_MS})
        member = kafka.static_member_id()
        if member:
            config["group.instance.id"] = member
        self._consumer = Consumer(config)
        self._admin = AdminClient(client_config(kafka))
        self._ends: tuple[_Offsets, _Offsets] | None = None  # first and end offsets asked for
        self._probe: Future | None = None  # a metadata request while the cluster is lost
        self._consumer.subscribe(topics, on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        for tp in partitions:
            stored = self._resume(TopicPartition(tp.topic, tp.partition))
            tp.offset = OFFSET_BEGINNING if stored is None else stored
            self.assigned.add(TopicPartition(tp.topic, tp.partition))
        consumer.assign(partitions)
        BROKERS.reachable()
        log.info("partitions assigned", partitions=len(partitions), total=len(self.assigned))

    def _on_revoke(self, consumer: Consumer, partitions: list[KafkaPartition]) -> None:
        for tp in partitions:
            self.assigned.discard(TopicPartition(tp.topic, tp.partition))
        consumer.unassign()
        log.info("partitions revoked", partitions=len(partitions), total=len(self.assigned))

    def poll(self, max_records: int, timeout: float,
             each: Callable[[list[Message]], None] | None = None) -> list[Message]:
        """What has arrived, up to ``max_records``: waits up to ``timeout`` for the first
        record, then keeps reading while reads come back full (:data:`FILL_WAIT_S` each), so a
        batch under a backlog is full and one at a steady rate is what arrived meanwhile.
        ``each`` gets every read's records as it comes back: work on them (the batch's decode)
        overlaps the fetches librdkafka's own threads make meanwhile, instead of following
        the last one. Raises on broker errors (not on end of partition)."""
        self._admin.poll(0)  # its log lines and errors, while they are current
        good, _ = self._read(1, timeout, each)
        while good and len(good) < max_records:
            want = min(max_records - len(good), POLL_CHUNK)
            more, read = self._read(want, FILL_WAIT_S, each)
            good += more
            if read == want:
                continue
            behind = min(self._behind(), max_records - len(good))
            if not behind or (behind < POLL_CHUNK and len(good) < BACKLOG_RECORDS):
                break  # caught up (a steady rate): the batch is what arrived
            more, read = self._read(min(behind, POLL_CHUNK), BACKLOG_WAIT_S, each)
            good += more
            if not read:
                break
        return good

    def _behind(self) -> int:
        """Records the broker held at the last fetch that were not consumed yet (the
        consumer's cached watermarks: no request). A backlog outruns the prefetched queue:
        the first poll of the DBP15K zh_en backlog stopped at 133K of 205K records, and the
        second batch recomputed nearly every embedding again (decision 0032)."""
        behind = 0
        for tp in self._consumer.position([KafkaPartition(p.topic, p.partition)
                                           for p in self.assigned]):
            low, high = self._consumer.get_watermark_offsets(tp, cached=True)
            start = tp.offset if tp.offset >= 0 else (
                self._resume(TopicPartition(tp.topic, tp.partition)) or max(low, 0))
            if high >= 0:
                behind += max(0, high - start)
        return behind

    def _read(self, want: int, timeout: float,
              each: Callable[[list[Message]], None] | None = None
              ) -> tuple[list[Message], int]:
        """Good records of one read (handed to ``each`` too), and how many came back in all."""
        messages = self._consumer.consume(want, timeout=timeout)
        good = []
        for msg in messages:
            error = msg.error()
            if error is None:
                good.append(msg)
            elif error.code() != KafkaError._PARTITION_EOF:
                raise KafkaUnavailableError(f"consume failed: {error.str()}")
        if good:
            BROKERS.reachable()
            if each is not None:
                each(good)
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

    def request_lag(self) -> None:
        """Ask the broker for every assigned partition's end offset (read-committed), unless a
        query is still in flight; :meth:`lag` reads the answer. Asynchronous: the consumer's
        own watermark queries (one blocking request per partition) stalled the loop 2.5–3 s
        of every 5 s at a low input rate on a local broker. While every broker is down it also
        asks for the cluster's metadata: an idle or unassigned member would otherwise not
        notice the cluster is back."""
        if BROKERS.lost and self._probe is None:  # idle or unassigned: nothing else would tell
            self._probe = self._admin.describe_cluster(request_timeout=10.0)
            self._probe.add_done_callback(self._probed)
        if self._ends is None and self.assigned:
            self._ends = tuple(self._admin.list_offsets(
                {KafkaPartition(tp.topic, tp.partition): spec for tp in self.assigned},
                isolation_level=IsolationLevel.READ_COMMITTED, request_timeout=10.0)
                for spec in (OffsetSpec.earliest(), OffsetSpec.latest()))

    def _probed(self, answer: Future) -> None:
        """The cluster answered a metadata request (or did not: the next round asks again)."""
        self._probe = None
        if answer.exception() is None:
            BROKERS.reachable()

    def lag(self) -> dict[TopicPartition, int] | None:
        """Records not yet consumed per assigned partition (end offset − position) once the
        requested end offsets have come back, else ``None``; never waits.

        End offsets come from the broker, not the consumer's cache: that only moves when it
        fetches, so an idle or stuck consumer would report a stale, too-small lag. A partition
        nothing was fetched from yet counts from where it will start: the stored offset, or
        the beginning. A partition whose query failed is left out (a metric: the next round
        asks again rather than stopping the service).
        """
        if self._ends is None or not all(f.done() for part in self._ends for f in part.values()):
            return None
        (lows, highs), self._ends = self._ends, None
        if any(f.exception() is None for f in highs.values()):
            BROKERS.reachable()
        lag = {}
        for tp in self._consumer.position(list(highs)):
            key = KafkaPartition(tp.topic, tp.partition)
            if lows[key].exception() is not None or highs[key].exception() is not None:
                continue
            ours = TopicPartition(tp.topic, tp.partition)
            low, high = lows[key].result().offset, highs[key].result().offset
            start = tp.offset if tp.offset >= 0 else self._resume(ours)
            lag[ours] = max(0, high - (low if start is None else max(start, low)))
        return lag

    def close(self) -> None:
        self._consumer.close()
