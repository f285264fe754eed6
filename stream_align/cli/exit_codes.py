"""Exit codes of ``stream-align``, defined once: what an operator's script can branch on.

An expected failure prints one line, ``stream-align: error: <what>``, to stderr and exits with
its code; only a bug (an exception that is none of these) prints a traceback. The README's
"Exit codes" table is this module in prose. A cause is found along the exception's chain
(``raise ... from``), so a registry failure wrapped as a Kafka error still reads as the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    """The command ran but its result check failed (e.g. replay published fewer events)."""
    USAGE = 2
    """Bad command-line arguments (argparse's own code)."""
    CONFIG = 3
    """Config file missing or not TOML, or a setting with an invalid value."""
    MODEL = 4
    """Model artifact missing, corrupt or incompatible."""
    DATASET = 5
    """Dataset directory not found or not a known layout."""
    KAFKA = 6
    """Kafka broker unreachable, it refused a request or a delivery, or a topic of the flow is
    missing or set up wrong (the start-up topic check)."""
    REGISTRY = 7
    """Schema Registry unreachable, or it lacks a schema."""
    PORT = 8
    """The probes/metrics HTTP server cannot bind its port (in use), or tracing is misconfigured."""
    STORE = 9
    """The RocksDB state store cannot be opened or holds corrupt data, or a state backup or
    restore was refused."""
    ERROR = 10
    """Any other stream-align error (evaluation, engine)."""
    INTERRUPTED = 130
    """Ctrl-C."""


@dataclass(frozen=True)
class Failure:
    code: ExitCode
    message: str


def classify(exc: BaseException) -> Failure | None:
    """The exit code and one-line message for an expected failure, or None for a bug."""
    from pydantic import ValidationError

    from stream_align.cli.errors import validation_summary

    if isinstance(exc, ValidationError):  # an option out of range (settings from CLI flags)
        return Failure(ExitCode.CONFIG, validation_summary(exc))
    for cause in _chain(exc):
        code = _code(cause)
        if code is not None:
            return Failure(code, _one_line(exc))
    return None


def _code(exc: BaseException) -> ExitCode | None:
    """Error modules are imported here, not at the top: they are light, but ``--help`` must
    not pay even for them."""
    from stream_align.cli.errors import ConfigError
    from stream_align.errors import StreamAlignError
    from stream_align.eval.datasets.errors import DatasetError
    from stream_align.events.errors import CodecError, Reason
    from stream_align.model.errors import ModelError
    from stream_align.service.errors import DeliveryError, KafkaUnavailableError, TopicSetupError
    from stream_align.service.observability.errors import ObservabilityError
    from stream_align.store.errors import StoreError

    if isinstance(exc, CodecError) and exc.reason in (Reason.REGISTRY_UNAVAILABLE,
                                                      Reason.SCHEMA_NOT_REGISTERED):
        return ExitCode.REGISTRY
    table: list[tuple[type[BaseException], ExitCode]] = [
        (ConfigError, ExitCode.CONFIG), (ModelError, ExitCode.MODEL),
        (DatasetError, ExitCode.DATASET), (KafkaUnavailableError, ExitCode.KAFKA),
        (DeliveryError, ExitCode.KAFKA), (TopicSetupError, ExitCode.KAFKA),
        (ObservabilityError, ExitCode.PORT),
        (StoreError, ExitCode.STORE)]
    for cls, code in table:
        if isinstance(exc, cls):
            return code
    return ExitCode.ERROR if isinstance(exc, StreamAlignError) else None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes, innermost last; a registry failure is found under a wrapper."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__
    return seen[::-1]


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
