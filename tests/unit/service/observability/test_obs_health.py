"""HealthState: heartbeat staleness, readiness conditions, SIGTERM as a shutdown request."""

from __future__ import annotations

import os
import signal
import threading

from stream_align.service.observability import (
    MODEL_LOADED,
    RESTORING,
    SHUTTING_DOWN,
    STATE_RESTORED,
    HealthState,
    Liveness,
    Readiness,
    Work,
    install_signal_handlers,
)


def test_alive_until_the_heartbeat_goes_stale() -> None:
    now = [0.0]
    health = HealthState(liveness_timeout_s=5.0, clock=lambda: now[0])
    now[0] = 5.0
    assert health.liveness().alive  # construction counts as the first beat
    now[0] = 5.1
    assert not health.liveness().alive
    health.heartbeat()
    assert health.liveness().heartbeat_age_s == 0.0


def test_progress_beats_and_remembers_the_longest_gap() -> None:
    now = [0.0]
    health = HealthState(liveness_timeout_s=5.0, clock=lambda: now[0])
    for step in range(1, 5):  # 12 s of work in 3 s chunks: alive throughout
        now[0] = 3.0 * step
        health.progress("pair scores", step, 4)
        live = health.liveness()
        assert live.alive and live.beats == step
    now[0] = 14.0
    health.heartbeat()  # back between batches: no work to report
    assert health.liveness() == Liveness(alive=True, heartbeat_age_s=0.0, beats=5,
                                         longest_gap_s=3.0, work=None)
    now[0] = 19.5  # a chunk that never returns: the probe fails
    assert not health.liveness().alive


def test_readiness_status_follows_the_start_up() -> None:
    health = HealthState(conditions=(STATE_RESTORED, MODEL_LOADED))
    assert health.readiness().status == "starting"
    health.mark_ready(MODEL_LOADED)
    health.mark_not_ready(STATE_RESTORED, RESTORING)
    health.progress("restore B: triples", 10_000, 0)
    readiness = health.readiness()
    assert (readiness.status, readiness.progress) == (RESTORING,
                                                      Work("restore B: triples", 10_000, 0))
    health.mark_ready(STATE_RESTORED)
    assert health.readiness() == Readiness(ready=True, reasons={}, status="ready")
    health.request_shutdown("received SIGTERM")
    assert health.readiness().status == "shutting_down"


def test_ready_once_every_condition_is_met() -> None:
    health = HealthState(conditions=(STATE_RESTORED, MODEL_LOADED))
    health.mark_ready(MODEL_LOADED)
    readiness = health.readiness()
    assert not readiness.ready
    assert dict(readiness.reasons) == {STATE_RESTORED: "not yet"}
    health.mark_ready(STATE_RESTORED)
    assert health.readiness().ready


def test_concurrent_updates_keep_a_consistent_state() -> None:
    health = HealthState(conditions=())
    names = [f"c{i}" for i in range(50)]

    def toggle(name: str) -> None:
        for _ in range(200):
            health.mark_not_ready(name, "busy")
            health.heartbeat()
            health.readiness()
            health.mark_ready(name)

    threads = [threading.Thread(target=toggle, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert health.readiness().ready


def test_a_late_beat_from_another_thread_never_moves_the_last_beat_back() -> None:
    """Two restore threads report at once (decision 0089): the one that read the clock first
    may take the lock last; the process is still as young as its newest beat."""
    now, entered, release = [10.0], threading.Event(), threading.Event()

    def clock() -> float:
        read = now[0]
        if threading.current_thread().name == "restore-side-1":
            entered.set()
            release.wait(5)  # read at 10 s, lands after the beat at 11 s
        return read

    health = HealthState(liveness_timeout_s=5.0, clock=clock)
    late = threading.Thread(target=health.progress, args=("restore B: samples", 0, 1),
                            name="restore-side-1")
    late.start()
    assert entered.wait(5)
    now[0] = 11.0
    health.progress("restore A: samples", 0, 1)
    release.set()
    late.join(5)
    live = health.liveness()
    assert (live.heartbeat_age_s, live.beats, live.work) == (0.0, 2, Work("restore B: samples",
                                                                          0, 1))
    assert live.longest_gap_s == 1.0


def test_sigterm_requests_shutdown_and_withdraws_readiness() -> None:
    health = HealthState(conditions=())
    restore = install_signal_handlers(health)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        assert health.wait_for_shutdown(timeout_s=5)
    finally:
        restore()
    assert health.shutdown_requested
    assert dict(health.readiness().reasons) == {SHUTTING_DOWN: "received SIGTERM"}
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
