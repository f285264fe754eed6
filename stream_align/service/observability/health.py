"""Liveness and readiness of the service, shared between the loop and the HTTP probes.

*Alive* means the loop is still turning: it calls ``heartbeat()`` every iteration (and during
long start-up work), and the probe fails once the last beat is older than the timeout, so a
wedged loop gets restarted. *Ready* means every start-up condition is met (state restored,
model loaded) and no shutdown is under way; each unmet condition carries a reason that
``/readyz`` reports. All methods are safe to call from any thread.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import FrameType, MappingProxyType

STATE_RESTORED = "state_restored"
MODEL_LOADED = "model_loaded"
SHUTTING_DOWN = "shutting_down"
START_UP_CONDITIONS = (STATE_RESTORED, MODEL_LOADED)


@dataclass(frozen=True)
class Liveness:
    """Whether the loop is alive and how old its last heartbeat is."""

    alive: bool
    heartbeat_age_s: float


@dataclass(frozen=True)
class Readiness:
    """Whether the service is ready and, if not, why (condition → reason)."""

    ready: bool
    reasons: Mapping[str, str]


class HealthState:
    """Heartbeat, readiness conditions and the shutdown request of one service process."""

    def __init__(self, liveness_timeout_s: float = 60.0,
                 conditions: Iterable[str] = START_UP_CONDITIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._timeout = liveness_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_beat = clock()  # construction counts as a beat: start-up is not a hang
        self._pending = {name: "not yet" for name in conditions}
        self._shutdown = threading.Event()

    def heartbeat(self) -> None:
        """The loop made progress; call at least once per ``liveness_timeout_s``."""
        now = self._clock()
        with self._lock:
            self._last_beat = now

    def liveness(self) -> Liveness:
        """Alive while the last heartbeat is at most ``liveness_timeout_s`` old."""
        with self._lock:
            age = self._clock() - self._last_beat
        return Liveness(alive=age <= self._timeout, heartbeat_age_s=age)

    def mark_ready(self, condition: str) -> None:
        """``condition`` (e.g. ``MODEL_LOADED``) is now met."""
        with self._lock:
            self._pending.pop(condition, None)

    def mark_not_ready(self, condition: str, reason: str) -> None:
        """``condition`` is unmet (again) because of ``reason``; /readyz reports it."""
        with self._lock:
            self._pending[condition] = reason

    def readiness(self) -> Readiness:
        """Ready when no condition is pending."""
        with self._lock:
            pending = dict(self._pending)
        return Readiness(ready=not pending, reasons=MappingProxyType(pending))

    def request_shutdown(self, reason: str) -> None:
        """Stop being ready and tell the loop to drain and exit (SIGTERM, or an operator)."""
        self.mark_not_ready(SHUTTING_DOWN, reason)
        self._shutdown.set()

    @property
    def shutdown_requested(self) -> bool:
        """The loop checks this between batches and exits cleanly once it is set."""
        return self._shutdown.is_set()

    def wait_for_shutdown(self, timeout_s: float | None = None) -> bool:
        """Block until shutdown is requested (or the timeout passes); True if requested."""
        return self._shutdown.wait(timeout_s)


def install_signal_handlers(health: HealthState,
                            signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
                            ) -> Callable[[], None]:
    """Turn SIGTERM/SIGINT into ``health.request_shutdown``; returns a function restoring the
    previous handlers. Call from the main thread (Python only delivers signals there).
    """

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        health.request_shutdown(f"received {signal.Signals(signum).name}")

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
