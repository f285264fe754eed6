"""What every librdkafka client of stream-align is built with: its settings' properties, its own
log lines routed through the structured logger, and a watch on broker connectivity.

Without a ``logger``, librdkafka prints raw lines to stderr — 608 of them in a 25 s broker
outage, one per reconnect attempt and client. With one, confluent-kafka hands each line to a
``logging.Logger`` (from the thread that polls the client), so it gets our JSON fields and
masking; :class:`RepeatFilter` lets the first line of a kind through and then one per
``interval_s`` with a count of those it held back. ``error_cb`` receives connection errors:
:class:`BrokerWatch` logs once when every broker is down and once when traffic flows again
(the next successful fetch, delivery or metadata answer), instead of a line per attempt.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from confluent_kafka import KafkaError

from stream_align.service.kafka_security import ClientRole
from stream_align.service.settings import KafkaSettings

LIBRDKAFKA_FORMAT = "%s [%s] %s"
"""How confluent-kafka logs a librdkafka line: facility, client name, text."""
THREAD_PREFIX = re.compile(r"^\[thrd:[^\]]*\]:\s*")
NUMBERS = re.compile(r"\d+")

log = structlog.get_logger("stream_align.kafka")


@dataclass
class _Seen:
    last: float
    held: int = 0


class RepeatFilter(logging.Filter):
    """Pass a line of a kind (level and text with numbers blanked) at most once per
    ``interval_s``; the next one passed carries ``repeated``: how many were held back.

    Also turns confluent-kafka's positional ``facility [client] text`` into a message and
    ``facility``/``client`` fields. Remembers at most ``max_kinds`` kinds (least recent go)."""

    def __init__(self, interval_s: float = 60.0, max_kinds: int = 256,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._interval, self._max, self._clock = interval_s, max_kinds, clock
        self._seen: dict[tuple[int, str], _Seen] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.msg == LIBRDKAFKA_FORMAT and isinstance(args, tuple) and len(args) == 3:
            record.facility, record.client = args[0], args[1]
            record.msg, record.args = THREAD_PREFIX.sub("", str(args[2])), ()
        key = (record.levelno, NUMBERS.sub("#", record.getMessage()))
        now = self._clock()
        with self._lock:
            seen = self._seen.pop(key, None)
            if seen is not None and now - seen.last < self._interval:
                seen.held += 1
                self._seen[key] = seen
                return False
            self._seen[key] = _Seen(last=now)
            while len(self._seen) > self._max:
                self._seen.pop(next(iter(self._seen)))
        if seen is not None and seen.held:
            record.repeated = seen.held
        return True


LIBRDKAFKA_LOGGER = logging.getLogger("stream_align.kafka.librdkafka")
LIBRDKAFKA_LOGGER.addFilter(RepeatFilter())


class BrokerWatch:
    """Whether the cluster is reachable, told by librdkafka's error callback (lost) and by the
    clients' successes (back); logs each change once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._lost_since: float | None = None

    @property
    def lost(self) -> bool:
        return self._lost_since is not None

    def on_error(self, error: KafkaError) -> None:
        """librdkafka's ``error_cb``: all brokers down marks the cluster lost; other errors
        (one connection failing, an authentication error) go to the de-duplicated log."""
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            with self._lock:
                first = self._lost_since is None
                if first:
                    self._lost_since = self._clock()
            if first:
                log.error("kafka brokers unreachable", error=error.str())
            return
        # ERROR, as librdkafka logs the same failure: the two lines then count as one kind
        LIBRDKAFKA_LOGGER.error("%s", error.str(), extra={"code": error.name()})

    def reachable(self) -> None:
        """A client heard from the cluster (records fetched, a delivery, a metadata answer)."""
        if self._lost_since is None:
            return
        with self._lock:
            since, self._lost_since = self._lost_since, None
        if since is not None:
            log.warning("kafka brokers reachable again", down_s=round(self._clock() - since, 1))


BROKERS = BrokerWatch()
"""The process's one view of its cluster: every client reports into it."""


def client_config(kafka: KafkaSettings, role: ClientRole = "admin",
                  **properties: Any) -> dict[str, Any]:
    """librdkafka properties for a new ``role`` client: the settings' connection and security,
    the logger, the error callback, ``properties`` (group id, acks ...), then the operator's
    passthrough (``kafka.extra_config`` and the role's own)."""
    return kafka.client_config(role, {"logger": LIBRDKAFKA_LOGGER,
                                      "error_cb": BROKERS.on_error, **properties})
