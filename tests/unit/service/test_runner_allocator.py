"""The allocator's steady thresholds: set once, after the first batch that finds the input
caught up (less than a full batch read) with no work deferred — not during the bulk load."""

from types import SimpleNamespace

from structlog.testing import capture_logs

from stream_align.service import runner
from stream_align.service.runner import AlignmentService
from stream_align.service.settings import RunnerSettings


def _service(monkeypatch, pending: int = 0, took: bool = True,
             **settings: int) -> tuple[AlignmentService, list[tuple[int, int]]]:
    """A service with ``pending`` deferred recomputes whose ``settle_allocator`` records its
    calls (and returns ``took``)."""
    calls: list[tuple[int, int]] = []

    def settle(mmap_threshold: int, trim_threshold: int) -> bool:
        calls.append((mmap_threshold, trim_threshold))
        return took

    monkeypatch.setattr(runner, "settle_allocator", settle)
    service = AlignmentService.__new__(AlignmentService)
    service._engine = SimpleNamespace(pending_count=pending)
    service._runner = RunnerSettings(batch_max_records=100, **settings)
    service._settled = False
    return service, calls


def test_a_full_batch_is_still_the_bulk_load(monkeypatch) -> None:
    service, calls = _service(monkeypatch)
    service._settle_after(100)
    assert calls == [] and not service._settled


def test_a_batch_that_leaves_work_deferred_is_still_the_bulk_load(monkeypatch) -> None:
    service, calls = _service(monkeypatch, pending=5)
    service._settle_after(0)  # an input-free drain call that did not empty the queue
    assert calls == [] and not service._settled
    service._engine.pending_count = 0
    service._settle_after(0)  # the drain's last call
    assert calls == [(32 << 20, 64 << 20)]


def test_the_steady_thresholds_are_set_once(monkeypatch) -> None:
    service, calls = _service(monkeypatch)
    with capture_logs() as logs:
        service._settle_after(7)
        service._settle_after(3)
    assert calls == [(32 << 20, 64 << 20)]
    assert [entry["event"] for entry in logs] == ["allocator set for the steady state"]


def test_zero_thresholds_leave_the_allocator_alone(monkeypatch) -> None:
    service, calls = _service(monkeypatch, steady_mmap_threshold_bytes=0,
                              steady_trim_threshold_bytes=0)
    service._settle_after(7)
    assert calls == [] and service._settled


def test_without_glibc_it_says_so(monkeypatch) -> None:
    service, calls = _service(monkeypatch, took=False)
    with capture_logs() as logs:
        service._settle_after(7)
    assert calls == [(32 << 20, 64 << 20)]
    assert logs[0]["event"].startswith("allocator left alone for the steady state")

