"""The probes and metrics endpoint, served for real on an ephemeral port and read with urllib."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from stream_align.service.observability import (
    MODEL_LOADED,
    RESTORING,
    STATE_RESTORED,
    HealthState,
    HttpServerError,
    ObservabilityServer,
    ObservabilitySettings,
    ServiceMetrics,
)


class FakeClock:
    """Monotonic time the test moves by hand, so staleness needs no sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def health(clock: FakeClock) -> HealthState:
    return HealthState(liveness_timeout_s=10.0, clock=clock)


@pytest.fixture
def metrics() -> ServiceMetrics:
    return ServiceMetrics(model_version="m-test")


@pytest.fixture
def port(health: HealthState, metrics: ServiceMetrics) -> Iterator[int]:
    settings = ObservabilitySettings(http_port=0)
    with ObservabilityServer.from_settings(settings, health, metrics) as server:
        yield server.port


def get(port: int, path: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read()


def test_healthz_follows_the_heartbeat(port: int, health: HealthState, clock: FakeClock) -> None:
    status, content_type, body = get(port, "/healthz")
    assert (status, content_type, json.loads(body)["alive"]) == (200, "application/json", True)

    clock.now += 10.5
    status, _, body = get(port, "/healthz")
    assert status == 503
    assert json.loads(body) == {"alive": False, "heartbeat_age_s": 10.5, "beats": 0,
                                "longest_gap_s": 0.0, "work": None}

    health.heartbeat()
    assert get(port, "/healthz")[0] == 200


def test_healthz_says_what_long_work_is_doing(port: int, health: HealthState,
                                              clock: FakeClock) -> None:
    for chunk in range(3):  # a batch far longer than the timeout, beating between chunks
        clock.now += 9.0
        health.progress("recompute A", chunk, 3)
        status, _, body = get(port, "/healthz")
        assert status == 200
    assert json.loads(body) == {"alive": True, "heartbeat_age_s": 0.0, "beats": 3,
                                "longest_gap_s": 9.0,
                                "work": {"stage": "recompute A", "done": 2, "total": 3}}


def test_readyz_reports_each_pending_condition(port: int, health: HealthState) -> None:
    status, _, body = get(port, "/readyz")
    assert status == 503
    assert json.loads(body) == {"ready": False, "status": "starting", "progress": None,
                                "reasons": {STATE_RESTORED: "not yet", MODEL_LOADED: "not yet"}}

    health.mark_ready(STATE_RESTORED)
    health.mark_not_ready(MODEL_LOADED, "artifact missing: /models/v3")
    assert json.loads(get(port, "/readyz")[2])["reasons"] == {
        MODEL_LOADED: "artifact missing: /models/v3"}

    health.mark_ready(MODEL_LOADED)
    status, _, body = get(port, "/readyz")
    assert (status, json.loads(body)) == (200, {"ready": True, "status": "ready", "reasons": {},
                                                "progress": None})

    health.request_shutdown("received SIGTERM")
    status, _, body = get(port, "/readyz")
    assert (status, json.loads(body)["reasons"]) == (503, {"shutting_down": "received SIGTERM"})
    assert json.loads(body)["status"] == "shutting_down"


def test_readyz_says_restoring_with_progress(port: int, health: HealthState) -> None:
    health.mark_ready(MODEL_LOADED)
    health.mark_not_ready(STATE_RESTORED, RESTORING)
    health.progress("restore A: embeddings", 20_000, 0)
    status, _, body = get(port, "/readyz")
    assert (status, json.loads(body)) == (503, {
        "ready": False, "status": "restoring", "reasons": {STATE_RESTORED: "restoring"},
        "progress": {"stage": "restore A: embeddings", "done": 20_000, "total": 0}})


def test_metrics_exposes_what_was_recorded(port: int, metrics: ServiceMetrics) -> None:
    metrics.set_consumer_lag("kg.triples", 2, 17)
    metrics.observe_batch(0.012)
    metrics.observe_affected_set(11)
    metrics.observe_recompute(0.004)
    metrics.count_in("kg.triples", "ADD_TRIPLE", 3)
    metrics.count_out("kg.alignments", "MATCH")
    metrics.count_dead_letter("schema_violation")

    status, content_type, body = get(port, "/metrics")
    text = body.decode()
    assert status == 200
    assert content_type.startswith("text/plain")
    for line in (
        'stream_align_consumer_lag{partition="2",topic="kg.triples"} 17.0',
        "stream_align_batch_duration_seconds_count 1.0",
        'stream_align_batch_duration_seconds_bucket{le="0.025"} 1.0',
        'stream_align_affected_set_size_bucket{le="20.0"} 1.0',
        "stream_align_recompute_duration_seconds_sum 0.004",
        'stream_align_events_applied_total{op="ADD_TRIPLE",topic="kg.triples"} 3.0',
        'stream_align_events_out_total{decision="MATCH",topic="kg.alignments"} 1.0',
        'stream_align_dead_letters_total{reason="schema_violation"} 1.0',
    ):
        assert line in text
    assert 'stream_align_build_info{model_version="m-test"' in text


def test_unknown_path_is_404(port: int) -> None:
    assert get(port, "/nope")[0] == 404


def test_lifecycle_errors(health: HealthState, metrics: ServiceMetrics, port: int) -> None:
    taken = ObservabilityServer("127.0.0.1", port, health, metrics)
    with pytest.raises(HttpServerError, match="cannot serve"):
        taken.start()
    with pytest.raises(HttpServerError, match="not started"):
        _ = taken.port
    taken.stop()  # stopping a server that never started is harmless


def test_stop_releases_the_port(health: HealthState, metrics: ServiceMetrics) -> None:
    server = ObservabilityServer("127.0.0.1", 0, health, metrics)
    port = server.start()
    with pytest.raises(HttpServerError, match="already started"):
        server.start()
    server.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
    again = ObservabilityServer("127.0.0.1", port, health, metrics)
    assert again.start() == port
    again.stop()
