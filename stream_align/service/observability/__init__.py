"""The service's operational surface: probes, Prometheus metrics, traces and structured logs.

The service loop builds these once at start-up (see decision 0004 for the choices)::

    configure_logging(settings.log_level, settings.log_format)
    tracer = configure_tracing(settings)
    metrics, health = ServiceMetrics(), HealthState(settings.liveness_timeout_s)
    with ObservabilityServer.from_settings(settings, health, metrics):
        ...  # heartbeat(), batch_span(...), metrics.observe_batch(...)
"""

from stream_align.lazy import lazy_exports

_EXPORTS = {
    "HealthState": "stream_align.service.observability.health",
    "HttpServerError": "stream_align.service.observability.errors",
    "Liveness": "stream_align.service.observability.health",
    "MODEL_LOADED": "stream_align.service.observability.health",
    "RESTORING": "stream_align.service.observability.health",
    "ObservabilityError": "stream_align.service.observability.errors",
    "ObservabilityServer": "stream_align.service.observability.http_server",
    "ObservabilitySettings": "stream_align.service.observability.settings",
    "Readiness": "stream_align.service.observability.health",
    "SHUTTING_DOWN": "stream_align.service.observability.health",
    "STATE_RESTORED": "stream_align.service.observability.health",
    "ServiceMetrics": "stream_align.service.observability.metrics",
    "TracingExporterUnavailableError": "stream_align.service.observability.errors",
    "Work": "stream_align.service.observability.health",
    "batch_span": "stream_align.service.observability.spans",
    "publish_spans": "stream_align.service.observability.spans",
    "configure_logging": "stream_align.service.observability.logging",
    "configure_tracing": "stream_align.service.observability.tracing",
    "install_signal_handlers": "stream_align.service.observability.health",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
