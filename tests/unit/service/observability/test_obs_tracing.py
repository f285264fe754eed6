"""batch_span follows the messaging semantic conventions; configure_tracing picks the exporter."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from stream_align.service.observability import (
    ObservabilitySettings,
    TracingExporterUnavailableError,
    batch_span,
    configure_tracing,
)
from stream_align.service.observability.tracing import OTLP_MODULE

SEMCONV_ATTRIBUTES = {
    "messaging.system": "kafka",
    "messaging.operation.name": "process",
    "messaging.operation.type": "process",
    "messaging.destination.name": "kg.triples",
    "messaging.destination.partition.id": "2",
    "messaging.batch.message_count": 500,
    "messaging.consumer.group.name": "stream-align",
}


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracer(exporter: InMemorySpanExporter) -> Tracer:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test")


def test_batch_span_carries_the_messaging_attributes(tracer: Tracer,
                                                     exporter: InMemorySpanExporter) -> None:
    with batch_span(tracer, "kg.triples", 2, 500, "stream-align") as span:
        span.set_attribute("stream_align.affected_set_size", 11)
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "process kg.triples"
    assert finished.kind is SpanKind.CONSUMER
    assert dict(finished.attributes or {}) == {**SEMCONV_ATTRIBUTES,
                                               "stream_align.affected_set_size": 11}
    assert finished.status.status_code is StatusCode.UNSET


def test_batch_span_records_the_exception(tracer: Tracer, exporter: InMemorySpanExporter) -> None:
    class StoreCorruptError(Exception):
        pass

    with pytest.raises(StoreCorruptError), batch_span(tracer, "kg.triples", 0, 1, "g"):
        raise StoreCorruptError("checksum mismatch")
    (finished,) = exporter.get_finished_spans()
    assert finished.status.status_code is StatusCode.ERROR
    assert (finished.attributes or {})["error.type"] == (
        f"{__name__}.test_batch_span_records_the_exception.<locals>.StoreCorruptError")
    (event,) = finished.events
    assert event.name == "exception"
    assert (event.attributes or {})["exception.message"] == "checksum mismatch"


def test_none_exporter_gives_a_working_tracer() -> None:
    tracer = configure_tracing(ObservabilitySettings())
    with batch_span(tracer, "kg.labels", 0, 3, "g") as span:
        assert span.get_span_context().is_valid


def test_console_exporter_writes_spans_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    tracer = configure_tracing(ObservabilitySettings(tracing_exporter="console",
                                                     service_name="sa-test"))
    with batch_span(tracer, "kg.triples", 1, 7, "g"):
        pass
    printed = json.loads(capsys.readouterr().out)
    assert printed["name"] == "process kg.triples"
    assert printed["kind"] == "SpanKind.CONSUMER"
    assert printed["resource"]["attributes"]["service.name"] == "sa-test"


def test_otlp_without_its_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, OTLP_MODULE, None)  # import fails as if not installed
    with pytest.raises(TracingExporterUnavailableError,
                       match="opentelemetry-exporter-otlp-proto-http"):
        configure_tracing(ObservabilitySettings(tracing_exporter="otlp"))


def test_otlp_exporter_gets_the_configured_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoints: list[str] = []

    class FakeOtlpExporter(SpanExporter):
        def __init__(self, endpoint: str) -> None:
            endpoints.append(endpoint)

        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    module = types.ModuleType(OTLP_MODULE)
    module.OTLPSpanExporter = FakeOtlpExporter  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, OTLP_MODULE, module)
    configure_tracing(ObservabilitySettings(tracing_exporter="otlp",
                                            otlp_endpoint="http://collector:4318/v1/traces"))
    assert endpoints == ["http://collector:4318/v1/traces"]
