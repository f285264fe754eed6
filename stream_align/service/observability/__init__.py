"""The service's operational surface: probes, Prometheus metrics, traces and structured logs.

The service loop builds these once at start-up (see decision 0004 for the choices)::

    configure_logging(settings.log_level, settings.log_format)
    tracer = configure_tracing(settings)
    metrics, health = ServiceMetrics(), HealthState(settings.liveness_timeout_s)
    with ObservabilityServer.from_settings(settings, health, metrics):
        ...  # heartbeat(), batch_span(...), metrics.observe_batch(...)
"""

from stream_align.service.observability.errors import (
    HttpServerError,
    ObservabilityError,
    TracingExporterUnavailableError,
)
from stream_align.service.observability.health import (
    MODEL_LOADED,
    SHUTTING_DOWN,
    STATE_RESTORED,
    HealthState,
    Liveness,
    Readiness,
    install_signal_handlers,
)
from stream_align.service.observability.http_server import ObservabilityServer
from stream_align.service.observability.logging import configure_logging
from stream_align.service.observability.metrics import ServiceMetrics
from stream_align.service.observability.settings import ObservabilitySettings
from stream_align.service.observability.tracing import batch_span, configure_tracing

__all__ = [
    "MODEL_LOADED",
    "SHUTTING_DOWN",
    "STATE_RESTORED",
    "HealthState",
    "HttpServerError",
    "Liveness",
    "ObservabilityError",
    "ObservabilityServer",
    "ObservabilitySettings",
    "Readiness",
    "ServiceMetrics",
    "TracingExporterUnavailableError",
    "batch_span",
    "configure_logging",
    "configure_tracing",
    "install_signal_handlers",
]
