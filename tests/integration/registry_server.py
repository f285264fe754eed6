"""A small Schema Registry for tests: the REST endpoints stream-align uses, over real HTTP(S).

No Schema Registry server can run here (Confluent's is not on Maven Central as a runnable, and
there is no Docker), so tests talk through Confluent's real ``SchemaRegistryClient`` to this
server: register (``POST /subjects/{s}/versions``), look up (``POST /subjects/{s}``) and fetch
by id (``GET /schemas/ids/{id}``), with Confluent's error codes, HTTP basic auth, TLS with an
optional client-certificate requirement, and an outage switch (``fail_next`` requests answer
503; ``stop()`` refuses connections). Ids are global per schema text, as in Confluent's.
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class RegistryState:
    """Subjects, schemas and the knobs a test turns; shared by the handler threads."""

    def __init__(self, user_info: str | None) -> None:
        self.lock = threading.Lock()
        self.user_info = user_info
        self.schemas: dict[int, str] = {}
        self.subjects: dict[str, list[int]] = {}
        self.fail_next = 0
        self.requests: list[str] = []

    def schema_id(self, text: str) -> int:
        canonical = json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
        for schema_id, known in self.schemas.items():
            if known == canonical:
                return schema_id
        schema_id = 100 + len(self.schemas)
        self.schemas[schema_id] = canonical
        return schema_id


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:  # quiet: tests read state, not access logs
        pass

    def _reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _admitted(self) -> bool:
        state = self.server.state
        with state.lock:
            state.requests.append(f"{self.command} {self.path}")
            if state.fail_next > 0:
                state.fail_next -= 1
                self._reply(503, {"error_code": 50003, "message": "registry unavailable"})
                return False
        if state.user_info is not None:
            expected = "Basic " + base64.b64encode(state.user_info.encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._reply(401, {"error_code": 401, "message": "Unauthorized"})
                return False
        return True

    def do_GET(self) -> None:
        if not self._admitted():
            return
        match = re.fullmatch(r"/schemas/ids/(\d+)(\?.*)?", self.path)
        state = self.server.state
        with state.lock:
            text = state.schemas.get(int(match[1])) if match else None
        if text is None:
            self._reply(404, {"error_code": 40403, "message": "Schema not found"})
        else:
            self._reply(200, {"schema": text})

    def do_POST(self) -> None:
        if not self._admitted():
            return
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        match = re.fullmatch(r"/subjects/([^/?]+)(/versions)?(\?.*)?", self.path)
        if match is None:
            self._reply(404, {"error_code": 404, "message": "no such endpoint"})
            return
        subject, register = match[1], bool(match[2])
        state = self.server.state
        with state.lock:
            schema_id = state.schema_id(body["schema"])
            versions = state.subjects.setdefault(subject, []) if register else \
                state.subjects.get(subject)
            if register and schema_id not in versions:
                versions.append(schema_id)
        if register:
            self._reply(200, {"id": schema_id})
        elif versions is None:
            self._reply(404, {"error_code": 40401, "message": f"Subject '{subject}' not found."})
        elif schema_id not in versions:
            self._reply(404, {"error_code": 40403, "message": "Schema not found"})
        else:
            self._reply(200, {"subject": subject, "id": schema_id,
                              "version": versions.index(schema_id) + 1, "schema": body["schema"]})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: RegistryState


class RegistryServer:
    """The server on a free 127.0.0.1 port, in a thread; ``url`` is where it answers."""

    def __init__(self, *, user_info: str | None = None, cert: Path | None = None,
                 key: Path | None = None, client_ca: Path | None = None) -> None:
        self.state = RegistryState(user_info)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        scheme = "http"
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            if client_ca is not None:
                context.load_verify_locations(client_ca)
                context.verify_mode = ssl.CERT_REQUIRED
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> RegistryServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering and close the socket (a later connection is refused)."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
