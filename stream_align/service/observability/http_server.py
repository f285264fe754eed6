"""The probes and metrics endpoint: ``/healthz``, ``/readyz`` and ``/metrics``.

Standard library ``ThreadingHTTPServer`` on a daemon thread: three read-only GET routes do not
justify a web framework, and a thread keeps the endpoint answering while the loop is busy in
a long batch (which is exactly when a liveness probe must still get a reply). See decision 0004.
"""

from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from stream_align.service.observability.errors import HttpServerError
from stream_align.service.observability.health import HealthState, Work
from stream_align.service.observability.metrics import ServiceMetrics
from stream_align.service.observability.settings import ObservabilitySettings

log = structlog.get_logger(__name__)
JSON_TYPE = "application/json"


class _Server(ThreadingHTTPServer):
    """Carries the state the handler reads; handler threads never block shutdown."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], health: HealthState,
                 metrics: ServiceMetrics) -> None:
        super().__init__(address, _Handler)
        self.health = health
        self.metrics = metrics


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "stream-align"

    def do_GET(self) -> None:
        route = self.path.split("?", 1)[0]
        if route == "/healthz":
            live = self.server.health.liveness()
            body = {"alive": live.alive, "heartbeat_age_s": round(live.heartbeat_age_s, 3),
                    "beats": live.beats, "longest_gap_s": round(live.longest_gap_s, 3),
                    "work": _work(live.work)}
            self._send_json(HTTPStatus.OK if live.alive else HTTPStatus.SERVICE_UNAVAILABLE, body)
        elif route == "/readyz":
            ready = self.server.health.readiness()
            body = {"ready": ready.ready, "status": ready.status, "reasons": dict(ready.reasons),
                    "progress": _work(ready.progress)}
            self._send_json(HTTPStatus.OK if ready.ready else HTTPStatus.SERVICE_UNAVAILABLE, body)
        elif route == "/metrics":
            payload, content_type = self.server.metrics.exposition()
            self._send(HTTPStatus.OK, payload, content_type)
        else:
            self._send_json(HTTPStatus.NOT_FOUND, {"error": f"no route {route}"})

    def _send_json(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        self._send(status, json.dumps(body).encode(), JSON_TYPE)

    def _send(self, status: HTTPStatus, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes arrive every few seconds: keep them out of the log unless debugging."""
        log.debug("http request", client=self.client_address[0], request=format % args)


def _work(work: Work | None) -> dict[str, Any] | None:
    return None if work is None else {"stage": work.stage, "done": work.done,
                                      "total": work.total}


class ObservabilityServer:
    """Serves the probes and metrics on a background thread; ``start`` then ``stop``."""

    def __init__(self, host: str, port: int, health: HealthState,
                 metrics: ServiceMetrics) -> None:
        self._address = (host, port)
        self._health = health
        self._metrics = metrics
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings: ObservabilitySettings, health: HealthState,
                      metrics: ServiceMetrics) -> ObservabilityServer:
        """A server on the configured host and port."""
        return cls(settings.http_host, settings.http_port, health, metrics)

    def start(self) -> int:
        """Bind and start serving; returns the bound port (the real one when port was 0)."""
        if self._server is not None:
            raise HttpServerError("observability server already started")
        try:
            self._server = _Server(self._address, self._health, self._metrics)
        except OSError as exc:
            raise HttpServerError(f"cannot serve on {self._address[0]}:{self._address[1]}: "
                                  f"{exc}") from exc
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="observability-http", daemon=True)
        self._thread.start()
        port = self.port
        log.info("observability server started", host=self._address[0], port=port)
        return port

    @property
    def port(self) -> int:
        """The bound port; only valid once started."""
        if self._server is None:
            raise HttpServerError("observability server not started")
        return int(self._server.server_address[1])

    def stop(self) -> None:
        """Stop accepting requests, wait for the serving thread and close the socket."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        log.info("observability server stopped")

    def __enter__(self) -> ObservabilityServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
