"""OpenTelemetry tracing: the tracer and where its spans go (the spans: ``spans.py``).

Attribute names come from ``opentelemetry-semantic-conventions`` (the installed release ships
conventions 1.44.0; see decision 0004), so a rename upstream shows up as a deprecation there,
not as a silent typo here. Exporters: ``none`` (a real SDK provider with no processor: spans
cost almost nothing and go nowhere), ``console`` (stdout, for debugging) and ``otlp`` (OTLP/HTTP,
an optional package).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanProcessor,
)
from opentelemetry.semconv._incubating.attributes import messaging_attributes as messaging
from opentelemetry.semconv.schemas import Schemas
from opentelemetry.trace import Tracer

from stream_align import __version__
from stream_align.service.observability.errors import TracingExporterUnavailableError
from stream_align.service.observability.settings import ObservabilitySettings

SCHEMA_URL = Schemas.V1_44_0.value
OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
OTLP_PACKAGE = "opentelemetry-exporter-otlp-proto-http"
PROCESS = messaging.MessagingOperationTypeValues.PROCESS.value
KAFKA = messaging.MessagingSystemValues.KAFKA.value


def configure_tracing(settings: ObservabilitySettings) -> Tracer:
    """A tracer exporting as configured; raises if the OTLP exporter is chosen but missing.

    The provider is not installed globally (tests and embedded use stay independent); it
    flushes its spans at interpreter exit, so a graceful SIGTERM shutdown loses none.
    """
    resource = Resource.create({SERVICE_NAME: settings.service_name,
                                SERVICE_VERSION: __version__})
    provider = TracerProvider(resource=resource)
    processor = _processor(settings)
    if processor is not None:
        provider.add_span_processor(processor)
    return provider.get_tracer(__name__, __version__, schema_url=SCHEMA_URL)


def _processor(settings: ObservabilitySettings) -> SpanProcessor | None:
    """The span processor for the configured exporter (None: spans are dropped)."""
    if settings.tracing_exporter == "console":
        return SimpleSpanProcessor(ConsoleSpanExporter(service_name=settings.service_name,
                                                       out=sys.stdout))
    if settings.tracing_exporter == "otlp":
        try:
            module = importlib.import_module(OTLP_MODULE)
        except ImportError as exc:
            raise TracingExporterUnavailableError(
                f"tracing_exporter='otlp' needs the package {OTLP_PACKAGE}, which is not "
                f"installed: `pip install {OTLP_PACKAGE}` (same release line as "
                "opentelemetry-sdk), or set tracing_exporter to 'none' or 'console'"
            ) from exc
        kwargs: dict[str, Any] = {}
        if settings.otlp_endpoint:
            kwargs["endpoint"] = settings.otlp_endpoint
        return BatchSpanProcessor(module.OTLPSpanExporter(**kwargs))
    return None
