"""Settings of the operational surface: probes and metrics endpoint, logs, tracing.

A frozen, typed model like every stage's settings. Nothing here reads the environment: the CLI
nests this model under ``observability`` in ``AppSettings``, so
``STREAM_ALIGN_OBSERVABILITY__HTTP_PORT`` or ``[observability] http_port`` set it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
LogFormat = Literal["json", "console"]
TracingExporter = Literal["none", "console", "otlp"]


class ObservabilitySettings(BaseModel):
    """How the service exposes its health, metrics, logs and traces."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    http_host: str = Field(
        "127.0.0.1", description="Address of the /healthz, /readyz, /metrics server "
        "(0.0.0.0 in a container so the kubelet and Prometheus can reach it)."
    )
    http_port: int = Field(
        8080, ge=0, le=65535, description="Port of that server; 0 picks a free one (tests)."
    )
    liveness_timeout_s: float = Field(
        60.0, gt=0, description="/healthz fails when the loop's last heartbeat is older than this."
    )
    log_level: LogLevel = Field(
        "INFO", description="Lowest level logged: DEBUG, INFO, WARNING, ERROR or CRITICAL."
    )
    log_format: LogFormat = Field(
        "json", description="json: one JSON object per line; console: aligned text for people."
    )
    tracing_exporter: TracingExporter = Field(
        "none", description="Where spans go: none (off), console (stdout) or otlp (OTLP/HTTP; "
        "needs opentelemetry-exporter-otlp-proto-http)."
    )
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces; unset = "
        "the exporter's own default (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else localhost:4318)."
    )
    service_name: str = Field(
        "stream-align", description="service.name of the traces' resource."
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_case_level(cls, value: object) -> object:
        """Accept ``debug`` as well as ``DEBUG``: people type both in environment variables."""
        return value.upper() if isinstance(value, str) else value
