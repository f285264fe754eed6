"""Answer ``stream-align state backup`` while the service runs: a thread watching the state dir.

A thread, not a step of the loop: a RocksDB checkpoint is consistent whatever the writer is
doing (each batch is one atomic write) and rocksdict releases the GIL while it copies, so a
backup neither waits for a long batch nor stalls it (measured in decision 0023).
"""

from __future__ import annotations

import threading
from types import TracebackType

import structlog

from stream_align.store.backup_requests import serve_backup_requests
from stream_align.store.state_store import StateStore

log = structlog.get_logger("stream_align.backup")


class BackupAgent:
    """``with BackupAgent(store):`` serves backup requests every ``interval_s`` until exit."""

    def __init__(self, store: StateStore, interval_s: float = 1.0) -> None:
        self._store, self._interval_s = store, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="state-backup", daemon=True)

    def _serve(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                for info in serve_backup_requests(self._store):
                    log.info("state backup taken", bytes=info.bytes, offsets=info.offsets,
                             model_version=info.model_version)
            except Exception:  # the loop must outlive a broken request directory
                log.exception("state backup requests could not be served")

    def __enter__(self) -> BackupAgent:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
