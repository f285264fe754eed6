"""Errors of the operational surface: misconfiguration that must stop the process at start-up."""

from stream_align.errors import StreamAlignError


class ObservabilityError(StreamAlignError):
    """The HTTP endpoint, tracing or logging could not be set up as configured."""


class TracingExporterUnavailableError(ObservabilityError):
    """The configured span exporter's package is not installed."""


class HttpServerError(ObservabilityError):
    """The health/metrics HTTP server could not bind its address or was used out of order."""
