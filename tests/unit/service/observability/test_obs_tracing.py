"""configure_tracing picks the exporter (the spans themselves: test_obs_spans.py)."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from stream_align.service.observability import (
    ObservabilitySettings,
    TracingExporterUnavailableError,
    batch_span,
    configure_tracing,
)
from stream_align.service.observability.tracing import OTLP_MODULE
from tests.unit.service.observability.kafka_records import Record


def test_none_exporter_gives_a_working_tracer() -> None:
    tracer = configure_tracing(ObservabilitySettings())
    with batch_span(tracer, "g", [Record("kg.labels", 0)] * 3) as span:
        assert span.get_span_context().is_valid


def test_console_exporter_writes_spans_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    tracer = configure_tracing(ObservabilitySettings(tracing_exporter="console",
                                                     service_name="sa-test"))
    with batch_span(tracer, "g", [Record("kg.triples", 1)] * 7):
        pass
    printed = [json.loads(span) for span in
               capsys.readouterr().out.replace("}\n{", "}\x00{").split("\x00")]
    assert [span["name"] for span in printed] == ["process kg.triples", "process batch"]
    assert printed[0]["kind"] == "SpanKind.CONSUMER"
    assert printed[0]["resource"]["attributes"]["service.name"] == "sa-test"


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
