"""Spans per batch, partition and output topic, and the trace context carried in headers
(OTel's in-memory exporter: the spans exactly as a collector would receive them)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from stream_align.service.observability.spans import (
    MAX_LINKS,
    batch_span,
    extract_context,
    publish_spans,
)
from tests.unit.service.observability.kafka_records import Record, traced

TRACE, SPAN = 0xABC, 0x123


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Tracer:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test")


def _by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def test_one_consumer_span_per_partition_with_its_real_destination(
        tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    records = [Record("kg.triples", 0)] * 3 + [Record("kg.triples", 2)] * 2 + [
        Record("kg.labels", 1)]
    with batch_span(tracer, "stream-align", records):
        pass
    spans = exporter.get_finished_spans()
    batch = next(span for span in spans if span.name == "process batch")
    assert batch.parent is None and batch.kind is SpanKind.INTERNAL
    assert (batch.attributes or {})["messaging.batch.message_count"] == 6
    children = {(s.attributes["messaging.destination.name"],
                 s.attributes["messaging.destination.partition.id"],
                 s.attributes["messaging.batch.message_count"])
                for s in spans if s.kind is SpanKind.CONSUMER and s.attributes}
    assert children == {("kg.triples", "0", 3), ("kg.triples", "2", 2), ("kg.labels", "1", 1)}
    for span in spans:
        if span is not batch:
            assert span.parent is not None and span.parent.span_id == batch.context.span_id
            assert span.name == f"process {span.attributes['messaging.destination.name']}"
            assert span.attributes["messaging.consumer.group.name"] == "stream-align"


def test_one_upstream_context_becomes_the_parent_and_a_link(
        tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    records = [Record("kg.triples", 0), traced("kg.triples", 0, TRACE, SPAN),
               Record("kg.triples", 1)]
    with batch_span(tracer, "g", records):
        pass
    spans = _by_name(exporter)
    batch = spans["process batch"]
    assert batch.context.trace_id == TRACE
    assert batch.parent is not None and batch.parent.span_id == SPAN and batch.parent.is_remote
    linked = [span for span in exporter.get_finished_spans() if span.links]
    assert len(linked) == 1  # only partition 0 carried it
    (link,) = linked[0].links
    assert (link.context.trace_id, link.context.span_id) == (TRACE, SPAN)


def test_several_upstream_contexts_are_links_of_a_new_trace(
        tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    records = [traced("kg.triples", 0, TRACE + n, SPAN + n) for n in range(MAX_LINKS + 5)]
    with batch_span(tracer, "g", records):
        pass
    batch = _by_name(exporter)["process batch"]
    assert batch.parent is None and batch.context.trace_id not in {TRACE + n for n in range(200)}
    assert len(batch.links) == MAX_LINKS


def test_publish_spans_put_their_context_on_outgoing_records(
        tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    with batch_span(tracer, "g", [traced("kg.triples", 0, TRACE, SPAN)]), \
            publish_spans(tracer) as headers:
        first = headers("kg.alignment-events")
        assert headers("kg.alignment-events") is first  # one span per topic
        headers("kg.alignments")
    spans = _by_name(exporter)
    send = spans["send kg.alignment-events"]
    assert send.kind is SpanKind.PRODUCER
    assert (send.attributes or {})["messaging.batch.message_count"] == 2
    assert (send.attributes or {})["messaging.operation.type"] == "send"
    assert send.parent is not None and send.parent.span_id == spans["process batch"].context.span_id
    carried = extract_context(first)
    assert carried is not None
    assert (carried.trace_id, carried.span_id) == (TRACE, send.context.span_id)
    assert spans["send kg.alignments"].context.trace_id == TRACE


def test_a_failure_marks_every_span(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    class DeliveryFailedError(Exception):
        pass

    with pytest.raises(DeliveryFailedError), batch_span(
            tracer, "g", [Record("kg.triples", 0), Record("kg.labels", 0)]), \
            publish_spans(tracer) as headers:
        headers("kg.alignments")
        raise DeliveryFailedError("broker said no")
    spans = exporter.get_finished_spans()
    assert len(spans) == 4
    for span in spans:
        assert span.status.status_code is StatusCode.ERROR
        assert (span.attributes or {})["error.type"].endswith("DeliveryFailedError")


def test_headers_without_a_valid_context_are_ignored() -> None:
    assert extract_context(None) is None
    assert extract_context([("traceparent", b"garbage")]) is None
    assert extract_context([("traceparent", b"")]) is None
