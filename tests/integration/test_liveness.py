"""The probes during a long start-up and long batches: the real service, broker, store and engine.

Time is the health state's clock, moved by the test: every beat takes 40 s of it, so a batch of
several chunks lasts longer than the 60 s liveness timeout. The probes are read over HTTP at
each beat, just before it lands (when the beat is oldest), from inside the running batch — so
what is asserted is what a kubelet would see, with no sleeping and no wall-clock limits.

The restore runs on two threads (``restore_threads=2``, decision 0089), both reporting: a look
and its beat are one step on the test clock (taken under a lock), so a look finds the age since
the newest beat of either thread, as a real probe would — not a beat the other thread has
announced on the clock but not yet given.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry import trace
from synthetic_dataset import write_synthetic_dataset

from stream_align.cli import main
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.events.codec import CodecSettings
from stream_align.model.artifact import load
from stream_align.service.observability import HealthState, ObservabilityServer, ServiceMetrics
from stream_align.service.runner import AlignmentService
from stream_align.service.settings import KafkaSettings, RunnerSettings
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

pytestmark = pytest.mark.integration
BEAT_S = 40.0
TIMEOUT_S = 60.0


@dataclass
class Seen:
    """One look at the probes, taken just before a beat."""

    stage: str | None  # None: the loop's heartbeat between batches
    thread: str  # the thread that was about to beat
    healthz: tuple[int, dict]
    readyz: tuple[int, dict]


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


class WatchedHealth(HealthState):
    """The service's health state on a test clock; looks at the probes before every beat."""

    def __init__(self) -> None:
        self.now = 0.0
        super().__init__(liveness_timeout_s=TIMEOUT_S, clock=lambda: self.now)
        self.url = ""
        self.seen: list[Seen] = []
        self._step = threading.Lock()  # a look and its beat: one step of the test clock

    def _look(self, stage: str | None) -> None:
        self.now += BEAT_S
        if self.url:
            self.seen.append(Seen(stage, threading.current_thread().name,
                                  _get(self.url + "/healthz"), _get(self.url + "/readyz")))

    def heartbeat(self) -> None:
        with self._step:
            self._look(None)
            super().heartbeat()

    def progress(self, stage: str, done: int, total: int) -> None:
        with self._step:
            self._look(stage)
            super().progress(stage, done, total)


def test_probes_stay_alive_through_a_long_restore_and_long_batches(
        kafka_settings: KafkaSettings, kafka_config_file: Path, tmp_path: Path) -> None:
    dataset = write_synthetic_dataset(tmp_path / "data")
    model = tmp_path / "model"
    assert main(["train", "--dataset", str(dataset), "--out", str(model), "--epochs", "2",
                 "--hidden-dim", "16", "--threads", "1"]) == 0
    assert main(["replay", "--dataset", str(dataset), "--no-progress",
                 "--config", str(kafka_config_file)]) == 0
    bundle = load(model)
    # many chunks: many beats per batch; the restore's sides on two threads, both beating
    engine = EngineSettings(recompute_chunk=16, restore_threads=2)
    health, metrics = WatchedHealth(), ServiceMetrics()
    store = StateStore(StoreSettings(path=tmp_path / "state"))
    service = AlignmentService(
        kafka_settings, CodecSettings(), RunnerSettings(), store,
        lambda stored, progress: AlignmentEngine.restore(bundle, stored, engine, progress),
        metrics, health, trace.get_tracer(__name__))
    try:
        with ObservabilityServer("127.0.0.1", 0, health, metrics) as server:
            health.url = f"http://127.0.0.1:{server.port}"
            service.start()
            restoring = list(health.seen)
            service.run(until_idle=3.0)
    finally:
        service.close()
        store.close()

    # start-up: alive, and not ready but "restoring" with what it is doing
    assert restoring and all(s.healthz[0] == 200 for s in restoring)
    assert {s.readyz[1]["status"] for s in restoring} == {"restoring"}
    assert all(s.readyz[0] == 503 and s.readyz[1]["progress"] for s in restoring[1:])
    assert "restore A: entities" in {s.readyz[1]["progress"]["stage"] for s in restoring[1:]}
    # ... with side B's share reported from the second restore thread: its beats count too
    second = {s.stage for s in restoring if s.thread.startswith("restore-side-1")}
    assert "restore B: entities" in second and not any(st.startswith("restore A") for st in second)

    # batches: every look finds the service alive and ready, mid-batch included ...
    running = health.seen[len(restoring):]
    assert all(s.healthz[0] == 200 and s.healthz[1]["alive"] for s in running)
    assert all(s.readyz == (200, {"ready": True, "status": "ready", "reasons": {},
                                  "progress": None}) for s in running)
    # ... and at least one batch's engine work ran several beats, longer than the timeout,
    # between two heartbeats of the loop: without the engine's beats it would have failed.
    longest, run = 0, 0
    for s in running:
        run = 0 if s.stage is None else run + (s.stage not in ("commit", "publish outbox"))
        longest = max(longest, run)
    assert longest * BEAT_S > TIMEOUT_S
    assert any(s.healthz[1]["work"] and s.healthz[1]["work"]["stage"] == "recompute A"
               for s in running)
    assert health.liveness().longest_gap_s == BEAT_S
