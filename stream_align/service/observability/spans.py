"""Spans of the service loop, and the trace context that crosses Kafka in record headers.

One micro-batch reads several partitions of two topics and is processed in one go, so:

- ``process batch`` (INTERNAL) covers the batch: engine, commit, publish. When the batch's
  records carry exactly one trace context (a W3C ``traceparent`` header — typical at a steady
  low rate) it is that context's child, so the upstream trace runs on through the service;
  with several, it starts a trace of its own and links them (at most :data:`MAX_LINKS`).
- ``process <topic>`` (CONSUMER), one per partition read, children of the batch span, with the
  real topic and partition, that partition's record count and links to its records' contexts.
- ``send <topic>`` (PRODUCER), one per output topic the outbox publishes to; every record sent
  carries that span's context in its headers, so a consumer downstream continues the trace.

Headers are read and written with the globally configured propagator (W3C trace context and
baggage unless ``OTEL_PROPAGATORS`` says otherwise). Attribute names come from
``opentelemetry-semantic-conventions`` (decision 0004); the choices here: decision 0022.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import Link, NonRecordingSpan, Span, SpanContext, SpanKind, Tracer
from opentelemetry.trace.status import Status, StatusCode

Headers = list[tuple[str, bytes]]
HeadersFor = Callable[[str], Headers]
MAX_LINKS = 128
"""Links kept per span: the SDK's default limit (a bulk batch holds 250,000 records)."""
MAX_READS = 8 * MAX_LINKS
"""Distinct trace headers parsed per batch (each is parsed in Python); the rest of a batch is
not linked."""
PROCESS = messaging.MessagingOperationTypeValues.PROCESS.value
SEND = messaging.MessagingOperationTypeValues.SEND.value
KAFKA = messaging.MessagingSystemValues.KAFKA.value


class Record(Protocol):
    """What the spans read of a consumed record (confluent-kafka's ``Message``)."""

    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def headers(self) -> Headers | None: ...


class _KafkaHeaders(Getter[Headers]):
    """The propagator's view of a record's headers: a list of (name, bytes) pairs."""

    def get(self, carrier: Headers, key: str) -> list[str] | None:
        values = [value.decode("latin-1") for name, value in carrier if name == key and value]
        return values or None

    def keys(self, carrier: Headers) -> list[str]:
        return [name for name, _ in carrier]


_GETTER = _KafkaHeaders()


def extract_context(headers: Headers | None) -> SpanContext | None:
    """The remote span context in a record's headers, or None (no or invalid header)."""
    if not headers:
        return None
    context = trace.get_current_span(propagate.extract(headers, getter=_GETTER))
    span_context = context.get_span_context()
    return span_context if span_context.is_valid else None


def _partitions(records: Sequence[Record]) -> dict[tuple[str, int], tuple[int, list[SpanContext]]]:
    """(topic, partition) → (records, distinct trace contexts up to MAX_LINKS)."""
    counts: Counter[tuple[str, int]] = Counter()
    contexts: dict[tuple[str, int], dict[tuple[int, int], SpanContext]] = {}
    # Parsing a header is Python work: read each distinct one once (a burst from one traced
    # request shares its context), and at most MAX_READS per batch.
    read: dict[tuple[tuple[str, bytes], ...], SpanContext | None] = {}
    for record in records:
        where = (record.topic() or "", record.partition() or 0)
        counts[where] += 1
        headers = record.headers()
        found = contexts.setdefault(where, {})
        if not headers or len(found) >= MAX_LINKS:
            continue
        raw = tuple(headers)
        if raw not in read and len(read) < MAX_READS:
            read[raw] = extract_context(headers)
        if (context := read.get(raw)) is not None:
            found[(context.trace_id, context.span_id)] = context
    return {where: (count, list(contexts[where].values())) for where, count in counts.items()}


def _error(span: Span, exc: BaseException) -> None:
    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else (
        f"{cls.__module__}.{cls.__qualname__}")
    span.set_attribute(ERROR_TYPE, name)
    span.set_status(Status(StatusCode.ERROR, str(exc)))


@contextmanager
def batch_span(tracer: Tracer, consumer_group: str, records: Sequence[Record]
               ) -> Iterator[Span]:
    """``process batch`` around one micro-batch, with a ``process <topic>`` span per partition
    read. An exception escaping the block marks every one of them and propagates."""
    partitions = _partitions(records)
    upstream = list({(c.trace_id, c.span_id): c
                     for _, found in partitions.values() for c in found}.values())
    parent = (trace.set_span_in_context(NonRecordingSpan(upstream[0]))
              if len(upstream) == 1 else None)
    common = {messaging.MESSAGING_SYSTEM: KAFKA, messaging.MESSAGING_OPERATION_NAME: PROCESS,
              messaging.MESSAGING_OPERATION_TYPE: PROCESS,
              messaging.MESSAGING_CONSUMER_GROUP_NAME: consumer_group}
    with tracer.start_as_current_span(
            "process batch", context=parent, kind=SpanKind.INTERNAL,
            links=[Link(c) for c in upstream[:MAX_LINKS]] if len(upstream) > 1 else None,
            attributes={**common, messaging.MESSAGING_BATCH_MESSAGE_COUNT: len(records)}
    ) as span:
        children = [tracer.start_span(
            f"{PROCESS} {topic}", kind=SpanKind.CONSUMER, links=[Link(c) for c in found],
            attributes={**common, messaging.MESSAGING_DESTINATION_NAME: topic,
                        messaging.MESSAGING_DESTINATION_PARTITION_ID: str(partition),
                        messaging.MESSAGING_BATCH_MESSAGE_COUNT: count})
            for (topic, partition), (count, found) in partitions.items()]
        try:
            yield span
        except Exception as exc:
            for marked in [span, *children]:
                _error(marked, exc)
            raise
        finally:
            for child in children:
                child.end()


@contextmanager
def publish_spans(tracer: Tracer) -> Iterator[HeadersFor]:
    """``send <topic>`` spans for one outbox publish, opened on each topic's first record; yields
    ``headers(topic)``: the trace context to put on that topic's records."""
    opened: dict[str, tuple[Span, Headers]] = {}
    sent: Counter[str] = Counter()

    def headers(topic: str) -> Headers:
        if topic not in opened:
            span = tracer.start_span(f"{SEND} {topic}", kind=SpanKind.PRODUCER, attributes={
                messaging.MESSAGING_SYSTEM: KAFKA, messaging.MESSAGING_OPERATION_NAME: SEND,
                messaging.MESSAGING_OPERATION_TYPE: SEND,
                messaging.MESSAGING_DESTINATION_NAME: topic})
            carrier: dict[str, str] = {}
            propagate.inject(carrier, context=trace.set_span_in_context(span))
            opened[topic] = (span, [(k, v.encode("latin-1")) for k, v in carrier.items()])
        sent[topic] += 1
        return opened[topic][1]

    try:
        yield headers
    except Exception as exc:
        for span, _ in opened.values():
            _error(span, exc)
        raise
    finally:
        for topic, (span, _) in opened.items():
            span.set_attribute(messaging.MESSAGING_BATCH_MESSAGE_COUNT, sent[topic])
            span.end()
