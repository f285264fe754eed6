"""The service loop: poll a micro-batch, apply it in one store transaction, publish, repeat.

Exactly-once effect, in explicit steps per batch:

1. *decode* the records as they are read (bad ones become dead-letter outbox records);
2. *admit* them by ``event_id`` (``idempotency``: re-sends dropped, reused ids dead-lettered)
   and *process* them with the engine, writing its state delta into a store transaction
   (``engine_state``);
3. *stage* the outputs (alignment events, dead letters) in the outbox and the next offset of
   every partition read — same transaction;
4. *commit* the transaction: one atomic RocksDB write;
5. *publish* the outbox with the idempotent producer, then acknowledge it.

A crash before 4 leaves no trace and the batch is re-read from the stored offsets; a crash
after 4 re-publishes the unacknowledged outbox on restart (same keys and event ids). (A bulk
refresh's candidate list and pair rows are committed in slices just before 4, marked not
current until 4 commits: a crash between leaves only rows a restore ignores and rebuilds;
``row_slices``. A batch's outbox records beyond a slice go the same way, not the outbox's until
4 commits: a restart deletes those of a batch that did not commit; ``outbox_slices``.)

A poison pill never stops the loop: the codec's limits turn what the store cannot take into
dead letters at step 1; should the store still refuse one input in step 2 (``InvalidValueError``
behind the engine's ``InputFailedError``), the transaction is rolled back, the engine's memory is
rebuilt from the store (as on a restart, so it is never ahead of the store) and the batch is
applied again without that input, which is dead-lettered as ``unstorable``.
Recovery (:meth:`AlignmentService.start`) is separate from the loop: drain the outbox, rebuild
the engine's memory from the store, then join the consumer group resuming from stored offsets.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog
from confluent_kafka import Message
from opentelemetry.trace import Tracer

from stream_align.engine.delta import StateDelta
from stream_align.engine.errors import InputFailedError, Rejection
from stream_align.engine.progress import Progress
from stream_align.engine.state_source import StateSource
from stream_align.events.codec import CodecSettings
from stream_align.events.contracts import AlignmentEvent, Label, TripleChange
from stream_align.service.batch import (
    BatchCodec,
    DeadLetterRecord,
    DecodedBatch,
    StagedEvents,
    stage_outputs,
)
from stream_align.service.collector import (
    collector_off,
    collector_paused,
    fix_mmap_threshold,
    freeze_survivors,
    release_free_heap,
    settle_allocator,
)
from stream_align.service.dead_letters import log_dead_letter
from stream_align.service.engine_state import StoredState, write_delta
from stream_align.service.idempotency import admit
from stream_align.service.observability import (
    MODEL_LOADED,
    RESTORING,
    STATE_RESTORED,
    HealthState,
    ServiceMetrics,
    batch_span,
    publish_spans,
)
from stream_align.service.outbox import drain_outbox, published_records
from stream_align.service.outbox_slices import stage_outbox
from stream_align.service.producer import EventProducer
from stream_align.service.row_slices import commit_rows_first, forget_kept
from stream_align.service.settings import KafkaSettings, RunnerSettings
from stream_align.service.source import StoreResumedSource
from stream_align.store.errors import InvalidValueError
from stream_align.store.records import TopicPartition
from stream_align.store.recovery import discard_open_outbox, stored_offsets, undo_row_slices
from stream_align.store.state_store import StateStore

log = structlog.get_logger("stream_align.service")
SLOW_BATCH_S = 1.0
"""A batch taking this long logs its stage breakdown (decode, process, write, commit, publish
and the engine's own stats): where a backlog's time goes, without a profiler."""


class Outcome(Protocol):
    """What the engine returns for one batch."""

    delta: StateDelta
    rejected: list[tuple[int, Rejection]]
    events: list[AlignmentEvent]
    stats: dict[str, float]


class Engine(Protocol):
    """The pure alignment engine, as the loop sees it."""

    @property
    def pending_count(self) -> int:
        """Recomputes deferred by the engine's work bound (drained when input is quiet)."""
        ...

    def process(self, changes: Sequence[TripleChange], labels: Sequence[Label]) -> Outcome: ...


EngineFactory = Callable[[StateSource, Progress], Engine]
"""Rebuilds the engine from stored state, reporting its progress (the health state's beat)."""


class AlignmentService:
    """Wires the source, the store, the engine and the producer together."""

    def __init__(self, kafka: KafkaSettings, codec: CodecSettings, runner: RunnerSettings,
                 store: StateStore, engine_factory: EngineFactory, metrics: ServiceMetrics,
                 health: HealthState, tracer: Tracer) -> None:
        self._kafka, self._runner, self._store = kafka, runner, store
        self._engine_factory = engine_factory
        self._metrics, self._health, self._tracer = metrics, health, tracer
        self._codec = BatchCodec(kafka, codec)
        self._producer = EventProducer(kafka, codec)
        self._engine: Engine | None = None
        self._source: StoreResumedSource | None = None
        self._last_lag = 0.0
        self._records = self._events_out = 0
        self._unpublished: list[int] = []  # event_time (ms) of events committed, not yet sent
        self._stages: dict[str, float] = {}  # this batch's seconds per stage, engine stats
        self._settled = False  # the allocator's steady thresholds set (the bulk load is done)

    def _resume_offset(self, tp: TopicPartition) -> int | None:
        return stored_offsets(self._store, [tp]).get(tp)

    def start(self) -> None:
        """Recover: publish what a crash left in the outbox, rebuild memory, join the group.
        Every stage beats the health state: /readyz says ``restoring`` with the progress and
        /healthz stays alive while it moves."""
        self._codec.prepare()  # a missing registry subject stops start-up, saying which
        fix_mmap_threshold(self._runner.mmap_threshold_bytes)  # before the restore allocates
        progress = self._health.progress
        self._health.mark_not_ready(STATE_RESTORED, RESTORING)
        progress("read published outbox", 0, 0)
        if discarded := discard_open_outbox(self._store):
            log.info("outbox slices of a batch that did not commit deleted", entries=discarded)
        if undone := undo_row_slices(self._store):
            log.info("candidate rows of a batch that did not commit put back", rows=undone)
        published = published_records(self._store, self._kafka)
        republished = drain_outbox(self._store, self._producer, published, progress)
        self._restore()
        freeze_survivors()  # the restored state is long-lived: no collection walks it again
        if self._runner.trim_heap:
            release_free_heap()  # the restore's transients (rows read, rebuilt lists)
        self._health.mark_ready(STATE_RESTORED)
        self._health.mark_ready(MODEL_LOADED)
        self._source = StoreResumedSource(
            self._kafka, [self._kafka.triples_topic, self._kafka.labels_topic],
            self._resume_offset)
        log.info("service started", republished=republished, already_published=len(published))

    def step(self) -> int:
        """Process at most one micro-batch; return the number of records it held."""
        if self._engine is None or self._source is None:
            raise RuntimeError("start() the service before stepping it")
        self._health.heartbeat()
        self._producer.serve_callbacks()
        batch = DecodedBatch()
        messages, decode_s = self._poll(batch)
        self._maybe_measure_lag()
        if not messages:
            if self._engine.pending_count:
                self._timed(batch, [])  # deferred work, no new input
            return 0
        records = len(messages)
        with batch_span(self._tracer, self._kafka.consumer_group, messages):
            self._timed(batch, messages, decode_s)
        self._source.mirror_offsets(batch.next_offsets)
        self._records += records
        return records

    def _poll(self, batch: DecodedBatch) -> tuple[list[Message], float]:
        """Step 1 as the records come: each read is decoded into ``batch`` while librdkafka
        fetches the next (a backlog's decode overlapped its fetches instead of following
        them); the records, and the seconds their decode took."""
        if self._source is None:
            raise RuntimeError("start() the service before stepping it")
        took = 0.0

        def decode(read: list[Message]) -> None:
            nonlocal took
            mark = time.perf_counter()
            self._codec.decode(read, batch)
            took += time.perf_counter() - mark

        with collector_off():  # what decoding makes is collected at the batch's end (``_timed``)
            messages = self._source.poll(self._runner.batch_max_records,
                                         self._runner.poll_timeout_s, decode)
        return messages, took

    def _timed(self, batch: DecodedBatch, messages: list[Message], decode_s: float = 0.0
               ) -> None:
        """Apply and publish one batch of ``messages``, timing each stage (a slow batch logs
        them); its decode, done as its records were read, took ``decode_s``. Once committed
        and published, the batch's records — decoded and as read — are let go before the
        collection at its end: it walked them all (a bulk batch's hundreds of thousands of
        tracked objects), only to freeze what reference counting frees as the step returns."""
        started, self._stages = time.perf_counter() - decode_s, {"decode_s": decode_s}
        records = len(messages)
        with collector_paused(self._stages, self._runner.trim_heap,
                              self._runner.trim_heap_above_bytes):
            self._apply(batch)
            self._publish()
            batch.release()
            messages.clear()
        took = time.perf_counter() - started
        if records:
            self._metrics.observe_batch(took)
        if took >= SLOW_BATCH_S:
            log.info("slow batch", records=records, took_s=round(took, 3),
                     **{k: round(v, 3) for k, v in self._stages.items()})
        self._settle_after(records)

    def _settle_after(self, records: int) -> None:
        """Once the bulk load is done — the first batch that read less than a full batch (the
        input caught up) and left no work deferred — set the allocator's steady thresholds
        (``collector.settle_allocator``): the load's peak was held by the low fixed one."""
        if self._settled or records >= self._runner.batch_max_records or (
                self._engine is None or self._engine.pending_count):
            return
        self._settled = True
        sizes = {"mmap_threshold_bytes": self._runner.steady_mmap_threshold_bytes,
                 "trim_threshold_bytes": self._runner.steady_trim_threshold_bytes}
        if not any(sizes.values()):
            return
        if settle_allocator(sizes["mmap_threshold_bytes"], sizes["trim_threshold_bytes"]):
            log.info("allocator set for the steady state", **sizes)
        else:
            log.info("allocator left alone for the steady state: no glibc mallopt, or it "
                     "refused a value", **sizes)

    def _restore(self) -> None:
        """Rebuild the engine's memory from the store (start, and after a refused input), the
        collector off: CPython's full collections walked the state again each time it grew
        by a quarter (decision 0132); the caller collects and freezes it once after."""
        self._engine = None
        with collector_off(), self._store.transaction() as tx:
            self._engine = self._engine_factory(StoredState(tx), self._health.progress)

    def _apply(self, batch: DecodedBatch) -> None:
        """Steps 2–4, again without any input the store refuses (see the module docstring)."""
        while True:
            try:
                return self._apply_once(batch)
            except InputFailedError as exc:
                if not isinstance(exc.__cause__, InvalidValueError):
                    raise
                msg = batch.take(exc.kind, exc.position)
                batch.dead_letters.append(self._codec.dead_letter(
                    msg, Rejection("unstorable", str(exc.__cause__))))
                log.warning("input refused by the store; dead-lettered, state rebuilt",
                            topic=msg.topic(), partition=msg.partition(), offset=msg.offset(),
                            error=str(exc.__cause__)[:200])
                self._restore()

    def _apply_once(self, batch: DecodedBatch) -> None:
        """Steps 2–4: process, stage outputs and offsets, commit (on leaving the block)."""
        if self._engine is None:
            raise RuntimeError("start() the service before stepping it")
        mark = time.perf_counter()
        with self._store.transaction() as tx:
            admit(tx, batch, self._codec, self._runner.input_id_window)
            outcome = self._engine.process(batch.changes, batch.labels)
            self._stages.update(outcome.stats)
            mark = self._lap("admit_process_s", mark)
            forget_kept(tx, commit_rows_first(self._store, outcome.delta,
                                              self._runner.commit_slice_rows))
            write_delta(tx, outcome.delta)
            outcome.delta = StateDelta()  # its rows are staged now: not held twice at the commit
            letters = batch.dead_letters + [
                self._codec.dead_letter(batch.change_messages[index], error)
                for index, error in outcome.rejected]
            stage_outputs(tx, [], batch.next_offsets)
            events = stage_outbox(self._store, tx, self._codec,  # empties outcome.events
                                  [letter.record for letter in letters], outcome.events,
                                  self._runner.commit_slice_outbox)
            staged = len(letters) + events.records
            self._health.progress("commit", staged, staged)
            mark = self._lap("write_s", mark)
        self._lap("commit_s", mark)
        self._record_metrics(batch, outcome, letters, events)

    def _lap(self, stage: str, since: float) -> float:
        """Add the time since ``since`` to ``stage`` of this batch's breakdown; now."""
        now = time.perf_counter()
        self._stages[stage] = self._stages.get(stage, 0.0) + now - since
        return now

    def _publish(self) -> None:
        """Step 5: send the outbox, each record with its ``send`` span's trace context, then
        record how fresh the alignment events it held are."""
        mark = time.perf_counter()
        with publish_spans(self._tracer) as headers:
            drain_outbox(self._store, self._producer, progress=self._health.progress,
                         headers=headers)
        self._lap("publish_s", mark)
        now_ms = time.time() * 1000.0
        for event_time in self._unpublished:
            self._metrics.observe_freshness((now_ms - event_time) / 1000.0)
        self._unpublished.clear()

    def _count_inputs(self, batch: DecodedBatch, outcome: Outcome) -> None:
        """Records consumed per topic: applied, dead-lettered and dropped as re-sends."""
        rejected = {index for index, _ in outcome.rejected}
        ops = Counter(change.op.value for index, change in enumerate(batch.changes)
                      if index not in rejected)
        for op, count in ops.items():
            self._metrics.count_in(self._kafka.triples_topic, op, count)
        if batch.labels:
            self._metrics.count_in(self._kafka.labels_topic, "LABEL", len(batch.labels))
        bad = Counter(letter.letter.topic for letter in batch.dead_letters)
        for topic, good in ((self._kafka.triples_topic, len(batch.changes)),
                            (self._kafka.labels_topic, len(batch.labels))):
            if seen := good + bad[topic] + batch.duplicates[topic]:
                self._metrics.count_consumed(topic, seen)
            if batch.duplicates[topic]:
                self._metrics.count_duplicates(topic, batch.duplicates[topic])

    def _record_metrics(self, batch: DecodedBatch, outcome: Outcome,
                        letters: list[DeadLetterRecord], events: StagedEvents) -> None:
        self._count_inputs(batch, outcome)
        self._events_out += len(events.times)
        self._unpublished.extend(events.times)
        for decision, count in events.decisions.items():
            self._metrics.count_out(self._kafka.alignment_events_topic, decision, count)
        for letter in letters:
            self._metrics.count_dead_letter(letter.reason)
            log_dead_letter(letter.letter)
        if unknown := int(outcome.stats.get("labels_unknown_entity", 0)):
            self._metrics.count_labels_unknown_entity(unknown)
            log.info("labels name entities not seen yet; kept, they apply once both exist",
                     labels=unknown)
        if "affected" in outcome.stats:
            self._metrics.observe_affected_set(int(outcome.stats["affected"]))
        if "recompute_s" in outcome.stats:
            self._metrics.observe_recompute(outcome.stats["recompute_s"])
        self._metrics.set_deferred(int(outcome.stats.get("deferred", 0)),
                                   int(outcome.stats.get("held_calls", 0)))

    def _maybe_measure_lag(self) -> None:
        """Publish consumer lag when an asked-for measurement has come back; ask every
        ``runner.lag_interval_s`` (asynchronous: the loop never waits for the broker)."""
        if self._source is None:
            return
        lags = self._source.lag()
        if lags is not None:
            for tp, lag in lags.items():
                self._metrics.set_consumer_lag(tp.topic, tp.partition, lag)
            log.info("progress", records=self._records, events_out=self._events_out,
                     lag=sum(lags.values()),
                     deferred=self._engine.pending_count if self._engine else 0)
        if time.monotonic() - self._last_lag >= self._runner.lag_interval_s:
            self._last_lag = time.monotonic()
            self._source.request_lag()

    def run(self, until_idle: float | None = None) -> None:
        """Step until shutdown is requested (SIGTERM) or, if given, ``until_idle`` s of quiet.

        Quiet only counts while this member holds partitions: after a crash the group may keep
        them with the dead member until its session times out, and an empty poll then means
        "not yet assigned", not "caught up". A step that drains deferred work reads no record
        but works: quiet counts from its end (counted from its start, a drain longer than
        ``until_idle`` ended the run at once, so the idle wait a benchmark subtracts had not
        been waited).
        """
        idle_since = time.monotonic()
        while not self._health.shutdown_requested:
            draining = self._engine is not None and self._engine.pending_count
            busy = self.step() or draining or (
                self._engine is not None and self._engine.pending_count)
            if busy or not self.assigned:
                idle_since = time.monotonic()
            elif until_idle is not None and time.monotonic() - idle_since >= until_idle:
                break

    @property
    def assigned(self) -> bool:
        """Whether the group has given this member any partition yet."""
        return self._source is not None and bool(self._source.assigned)

    def close(self) -> None:
        """Leave the group and flush; the store is closed by its owner."""
        if self._source is not None:
            self._source.close()
        self._producer.flush()
