"""A W3C ``traceparent`` on an input record, through the real broker, store and engine: the
service's spans continue (and link) that trace, and the alignment events it causes carry it on
in their headers. Spans are read with OTel's in-memory exporter."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from synthetic_dataset import write_synthetic_dataset

from stream_align.cli import main
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import AlignmentEvent, Label, LabelValue
from stream_align.model.artifact import load
from stream_align.service.observability import HealthState, ServiceMetrics
from stream_align.service.observability.spans import extract_context
from stream_align.service.producer import EventProducer
from stream_align.service.runner import AlignmentService
from stream_align.service.settings import KafkaSettings, RunnerSettings
from stream_align.service.topic_reader import latest_by_key, read_to_end
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

pytestmark = pytest.mark.integration
TRACE, SPAN = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331
TRACEPARENT = f"00-{TRACE:032x}-{SPAN:016x}-01".encode()


def _run(service: AlignmentService) -> None:
    service.run(until_idle=3.0)


def _forced_label(kafka: KafkaSettings, dataset: Path) -> Label:
    """A reviewer MATCH of a published left entity with another one's partner."""
    codec = Codec(AlignmentEvent)
    current = {e.left: e.right for e in (codec.decode(v) for v in
                                         latest_by_key(kafka, kafka.alignments_topic).values())}
    pair = load_dataset(dataset)
    seeded = {pair.a.keys[i] for i in pair.train[:, 0]}
    (left, _), (_, right) = sorted((k, v) for k, v in current.items() if k not in seeded)[:2]
    return Label.new(left=left, right=right, label=LabelValue.MATCH, source="reviewer")


def test_traceparent_flows_from_input_headers_to_spans_and_output_headers(
        kafka_settings: KafkaSettings, kafka_config_file: Path, tmp_path: Path) -> None:
    dataset = write_synthetic_dataset(tmp_path / "data", n=60)
    model = tmp_path / "model"
    assert main(["train", "--dataset", str(dataset), "--out", str(model), "--epochs", "1",
                 "--hidden-dim", "8", "--threads", "1"]) == 0
    assert main(["replay", "--dataset", str(dataset), "--no-progress",
                 "--config", str(kafka_config_file)]) == 0
    exporter = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    bundle = load(model)
    store = StateStore(StoreSettings(path=tmp_path / "state"))
    service = AlignmentService(
        kafka_settings, CodecSettings(), RunnerSettings(), store,
        lambda stored, progress: AlignmentEngine.restore(bundle, stored, EngineSettings(),
                                                         progress),
        ServiceMetrics(), HealthState(), provider.get_tracer("test"))
    try:
        service.start()
        _run(service)  # the replay: no trace context anywhere
        label = _forced_label(kafka_settings, dataset)
        producer = EventProducer(kafka_settings, CodecSettings())
        producer.send_raw(kafka_settings.labels_topic, Codec(Label).encode(label), label.left,
                          headers=[("traceparent", TRACEPARENT)])
        producer.flush()
        exporter.clear()
        _run(service)
    finally:
        service.close()
        store.close()

    spans = exporter.get_finished_spans()
    (batch,) = [s for s in spans if s.name == "process batch" and s.context.trace_id == TRACE]
    assert batch.parent is not None and batch.parent.span_id == SPAN  # continues the trace
    (consumed,) = [m for m in read_to_end(kafka_settings, kafka_settings.labels_topic)
                   if m.headers()]
    (partition_span,) = [s for s in spans if s.kind is SpanKind.CONSUMER and s.links]
    assert partition_span.attributes is not None
    assert partition_span.attributes["messaging.destination.name"] == kafka_settings.labels_topic
    assert partition_span.attributes["messaging.destination.partition.id"] == str(
        consumed.partition())
    assert [(link.context.trace_id, link.context.span_id) for link in partition_span.links] == [
        (TRACE, SPAN)]
    assert partition_span.parent is not None
    assert partition_span.parent.span_id == batch.context.span_id

    sends = {s.context.span_id: s for s in spans
             if s.kind is SpanKind.PRODUCER and s.context.trace_id == TRACE}
    assert {s.attributes["messaging.destination.name"] for s in sends.values()} >= {
        kafka_settings.alignment_events_topic, kafka_settings.alignments_topic}
    codec = Codec(AlignmentEvent)
    caused = [m for m in read_to_end(kafka_settings, kafka_settings.alignment_events_topic)
              if codec.decode(m.value()).left == label.left
              and codec.decode(m.value()).right == label.right]
    assert caused, "the forced label published no alignment event"
    carried = extract_context(caused[-1].headers())
    assert carried is not None and carried.trace_id == TRACE
    send = sends[carried.span_id]  # the output's parent is the span that sent it
    assert send.attributes["messaging.destination.name"] == kafka_settings.alignment_events_topic
