"""Liveness and readiness of the service, shared between the loop and the HTTP probes.

*Alive* means work is progressing: the loop calls ``heartbeat()`` between batches, and the
engine, the restore and the outbox drain call ``progress(stage, done, total)`` between chunks
of their work (a bulk batch runs 35–96 s, a restore minutes; each chunk takes seconds). The
probe fails once the last beat is older than the timeout, so a wedged loop is restarted but a
long batch is not — restarting it would re-read the same batch forever. *Ready* means every
start-up condition is met (state restored, model loaded) and no shutdown is under way; each
unmet condition carries a reason, and while the state is being restored ``/readyz`` says
``restoring`` with the last progress report. All methods are safe to call from any thread.
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
RESTORING = "restoring"
"""The reason of ``STATE_RESTORED`` while the restore runs (``/readyz`` status ``restoring``)."""


@dataclass(frozen=True)
class Work:
    """The last progress report: a stage, how much of it is done and of how much (0: unknown)."""

    stage: str
    done: int
    total: int


@dataclass(frozen=True)
class Liveness:
    """Whether the loop is alive, how old its last beat is, how many beats there were, the
    longest wait between two of them (to size the timeout) and what it is working on."""

    alive: bool
    heartbeat_age_s: float
    beats: int = 0
    longest_gap_s: float = 0.0
    work: Work | None = None


@dataclass(frozen=True)
class Readiness:
    """Whether the service is ready and, if not, why (condition → reason); ``status`` is
    ``ready``, ``starting``, ``restoring`` or ``shutting_down``; ``progress`` is the last
    report while not ready."""

    ready: bool
    reasons: Mapping[str, str]
    status: str = "ready"
    progress: Work | None = None


class HealthState:
    """Heartbeat, readiness conditions and the shutdown request of one service process."""

    def __init__(self, liveness_timeout_s: float = 60.0,
                 conditions: Iterable[str] = START_UP_CONDITIONS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._timeout = liveness_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last_beat = clock()  # construction counts as a beat: start-up is not a hang
        self._beats = 0
        self._longest_gap = 0.0
        self._work: Work | None = None
        self._pending = {name: "not yet" for name in conditions}
        self._shutdown = threading.Event()

    def heartbeat(self) -> None:
        """The loop is between batches; call at least once per ``liveness_timeout_s``."""
        self._beat(None)

    def progress(self, stage: str, done: int, total: int) -> None:
        """Long work moved on (a chunk of a batch, of a restore); a beat that says what.
        Its signature is the engine's plain ``Progress`` callable."""
        self._beat(Work(stage, done, total))

    def _beat(self, work: Work | None) -> None:
        """A beat from any thread (a two-thread restore reports from both, decision 0089).
        The clock is read before the lock, so a beat that waited on it may carry an older
        time than one that landed meanwhile: the last beat only moves forward, or a probe
        would find the process older than its newest beat."""
        now = self._clock()
        with self._lock:
            self._longest_gap = max(self._longest_gap, now - self._last_beat)
            self._last_beat = max(self._last_beat, now)
            self._beats += 1
            self._work = work

    def liveness(self) -> Liveness:
        """Alive while the last beat is at most ``liveness_timeout_s`` old."""
        with self._lock:
            age = self._clock() - self._last_beat
            return Liveness(alive=age <= self._timeout, heartbeat_age_s=age, beats=self._beats,
                            longest_gap_s=self._longest_gap, work=self._work)

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
            pending, work = dict(self._pending), self._work
        if not pending:
            return Readiness(ready=True, reasons=MappingProxyType({}))
        if SHUTTING_DOWN in pending:
            status = "shutting_down"
        elif pending.get(STATE_RESTORED) == RESTORING:
            status = RESTORING
        else:
            status = "starting"
        return Readiness(ready=False, reasons=MappingProxyType(pending), status=status,
                         progress=work)

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
