"""Structured logs: JSON lines for machines, aligned text for people, one pipeline for both.

structlog renders; the standard library's root logger carries the records. Loggers of either
kind (``structlog.get_logger`` in our code, ``logging.getLogger`` in libraries) end up in the
same handler with the same fields: ``timestamp`` (UTC ISO 8601), ``level``, ``logger``,
``event`` and the call's key-values. Secrets never reach the output: ``SecretStr`` values,
values under secret-looking keys (also inside nested dicts, such as a client config), URL user
info and secret-looking query parameters are masked (``stream_align.secrets``).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from stream_align.secrets import MASK, mask_secrets
from stream_align.service.observability.settings import LogFormat, LogLevel

__all__ = ["MASK", "configure_logging", "redact_secrets"]


class _StructlogHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Our root handler, told apart from others so reconfiguring replaces only it. Without a
    stream of its own it writes to ``sys.stderr`` as it is at each record (a test runner, or
    an embedding program, may have swapped it since)."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: LogLevel = "INFO", fmt: LogFormat = "json",
                      stream: TextIO | None = None) -> None:
    """Route all logging through structlog to ``stream`` (default stderr) at ``level``.

    Idempotent: calling again replaces the previous configuration (level, format, stream).
    """
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        redact_secrets,
    ]
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.PositionalArgumentsFormatter(),
                    structlog.processors.StackInfoRenderer(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,  # loggers made before configure_logging must follow it
    )
    out = stream or sys.stderr
    handler = _StructlogHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *_renderers(fmt, out)],
    ))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _StructlogHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def _renderers(fmt: LogFormat, out: TextIO) -> list[Processor]:
    """Final processors: JSON lines with the traceback as a string, or console text."""
    if fmt == "json":
        return [structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(default=str)]
    return [structlog.dev.ConsoleRenderer(colors=out.isatty())]


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """Mask secrets before any renderer sees them (a structlog processor)."""
    return {key: mask_secrets(value, key) for key, value in event_dict.items()}
