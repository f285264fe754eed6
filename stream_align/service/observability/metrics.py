"""Prometheus metrics of the service, in a registry of their own.

Each ``ServiceMetrics`` owns a ``CollectorRegistry`` instead of using prometheus_client's global
one: two instances (tests, or a batch job beside the service) never collide on names, and
``/metrics`` shows exactly what this service recorded (plus the standard ``process_*`` memory,
CPU and file-descriptor metrics on Linux). The service loop calls the small typed methods below;
label values come from the event contracts (topics, ops, decisions, dead-letter reasons), all
low-cardinality by construction. One unit per metric; docs/metrics.md lists every one.
"""

from __future__ import annotations

import contextlib
import platform

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)

from stream_align import __version__

PREFIX = "stream_align"
# 1 ms … 10 min: a micro-batch is a few ms when little is affected, seconds at a hub, and
# up to minutes for a bulk batch of 250,000 records (docs/BENCHMARKS.md).
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                   30.0, 60.0, 120.0, 300.0, 600.0)
# 50 ms … 10 min: sub-second at a steady rate, tens of seconds when a load outruns the engine
# (docs/BENCHMARKS.md).
FRESHNESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Entities recomputed per batch: ~11 per triple on average, hundreds at the p99 (DESIGN §4).
SIZE_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 50_000)


class ServiceMetrics:
    """The service's metrics and the only way the loop records them."""

    def __init__(self, model_version: str = "none") -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)  # process_* (Linux /proc; empty elsewhere)
        self._build = Info(f"{PREFIX}_build", "Version of the running stream-align and model.",
                           registry=self.registry)
        self.set_model_version(model_version)
        self._lag = Gauge(f"{PREFIX}_consumer_lag", "Records not yet consumed (high watermark "
                          "minus position).", ["topic", "partition"], registry=self.registry)
        self._batch = Histogram(f"{PREFIX}_batch_duration_seconds", "Time to process one "
                                "consumed micro-batch: decode, engine, commit and publish.",
                                buckets=SECONDS_BUCKETS, registry=self.registry)
        self._recompute = Histogram(f"{PREFIX}_recompute_duration_seconds", "Time to recompute "
                                    "the affected embeddings of one batch.",
                                    buckets=SECONDS_BUCKETS, registry=self.registry)
        self._affected = Histogram(f"{PREFIX}_affected_set_size", "Entities whose embeddings "
                                   "one batch recomputed.", buckets=SIZE_BUCKETS,
                                   registry=self.registry)
        self._deferred = Gauge(f"{PREFIX}_deferred_recomputes", "Entities whose embedding "
                               "recompute the hub bound has queued (0 once caught up).",
                               registry=self.registry)
        self._held = Gauge(f"{PREFIX}_held_batches", "Batches whose candidate, score and "
                           "decision refresh waits for the recompute queue to drain (0 once "
                           "caught up).", registry=self.registry)
        self._freshness = Histogram(f"{PREFIX}_freshness_seconds", "Newest input event_time "
                                    "behind an alignment event to that event's publication "
                                    "(acknowledged by the broker).",
                                    buckets=FRESHNESS_BUCKETS, registry=self.registry)
        self._consumed = Counter(f"{PREFIX}_records_consumed", "Input records read, good or "
                                 "bad (= events applied + dead letters).", ["topic"],
                                 registry=self.registry)
        self._events_in = Counter(f"{PREFIX}_events_applied", "Input events the engine "
                                  "applied; records dead-lettered instead are not counted here "
                                  "(see stream_align_dead_letters_total).", ["topic", "op"],
                                  registry=self.registry)
        self._events_out = Counter(f"{PREFIX}_events_out", "Alignment events produced "
                                   "(committed with their batch, then published).",
                                   ["topic", "decision"], registry=self.registry)
        self._dead_letters = Counter(f"{PREFIX}_dead_letters", "Input records sent to the "
                                     "dead-letter topic.", ["reason"], registry=self.registry)
        self._duplicates = Counter(f"{PREFIX}_duplicate_inputs", "Input records dropped as "
                                   "exact re-sends of an applied event_id.", ["topic"],
                                   registry=self.registry)
        self._labels_unknown = Counter(f"{PREFIX}_labels_unknown_entity", "Labels applied "
                                       "while naming an entity neither graph has yet (kept: "
                                       "they take effect once it arrives).",
                                       registry=self.registry)

    def set_model_version(self, model_version: str) -> None:
        """Publish the loaded model's version in ``stream_align_build_info``."""
        self._build.info({"version": __version__, "model_version": model_version,
                          "python_version": platform.python_version()})

    def set_consumer_lag(self, topic: str, partition: int, lag: int) -> None:
        """Lag of one assigned partition; negative values (stale watermark) count as 0."""
        self._lag.labels(topic, str(partition)).set(max(lag, 0))

    def forget_partition(self, topic: str, partition: int) -> None:
        """Drop a revoked partition's lag so a rebalance leaves no stale series behind."""
        with contextlib.suppress(KeyError):
            self._lag.remove(topic, str(partition))

    def observe_batch(self, seconds: float) -> None:
        """Duration of one micro-batch, from poll to the committed state transaction."""
        self._batch.observe(seconds)

    def observe_affected_set(self, size: int) -> None:
        """Number of entities one batch's changes can affect (and so recomputes)."""
        self._affected.observe(size)

    def observe_recompute(self, seconds: float) -> None:
        """Duration of one batch's embedding recompute."""
        self._recompute.observe(seconds)

    def set_deferred(self, recomputes: int, held_batches: int) -> None:
        """The engine's deferred work after a batch (both 0 once the queue has drained)."""
        self._deferred.set(recomputes)
        self._held.set(held_batches)

    def observe_freshness(self, seconds: float) -> None:
        """One published alignment event: now − the newest input event_time it reflects."""
        self._freshness.observe(max(seconds, 0.0))

    def count_consumed(self, topic: str, count: int) -> None:
        """Input records read from ``topic`` (before decoding: good and bad)."""
        self._consumed.labels(topic).inc(count)

    def count_in(self, topic: str, op: str, count: int = 1) -> None:
        """Input events applied, by topic and operation (``ADD_TRIPLE``, ``LABEL`` …);
        dead-lettered records are counted by :meth:`count_dead_letter` instead."""
        self._events_in.labels(topic, op).inc(count)

    def count_out(self, topic: str, decision: str, count: int = 1) -> None:
        """Alignment events published, by topic and decision (``MATCH``, ``RETRACT``)."""
        self._events_out.labels(topic, decision).inc(count)

    def count_dead_letter(self, reason: str, count: int = 1) -> None:
        """Input records routed to the dead-letter topic, by reason."""
        self._dead_letters.labels(reason).inc(count)

    def count_duplicates(self, topic: str, count: int) -> None:
        """Input records dropped because their event_id was applied with the same content."""
        self._duplicates.labels(topic).inc(count)

    def count_labels_unknown_entity(self, count: int) -> None:
        """Labels kept although an entity they name does not exist (yet)."""
        self._labels_unknown.inc(count)

    def exposition(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of this registry and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
