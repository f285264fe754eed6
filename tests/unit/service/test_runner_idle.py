"""``AlignmentService.run(until_idle)``: quiet counts only after the last step that worked."""

from types import SimpleNamespace

from stream_align.service import runner
from stream_align.service.runner import AlignmentService


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _service(clock: _Clock, pending: int, drain_s: float) -> AlignmentService:
    """A service whose steps read nothing; a step with deferred work drains it in
    ``drain_s`` seconds of the clock, any other step takes one second."""
    service = AlignmentService.__new__(AlignmentService)
    service._engine = SimpleNamespace(pending_count=pending)
    service._health = SimpleNamespace(shutdown_requested=False)
    service._source = SimpleNamespace(assigned={"kg.triples/0"})

    def step() -> int:
        if service._engine.pending_count:
            clock.now += drain_s
            service._engine.pending_count = 0
        else:
            clock.now += 1.0
        return 0

    service.step = step  # type: ignore[method-assign]
    return service


def test_quiet_starts_after_a_drain_longer_than_the_idle_wait(monkeypatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(runner.time, "monotonic", clock)
    _service(clock, pending=5, drain_s=30.0).run(until_idle=10.0)
    assert clock.now >= 30.0 + 10.0  # the drain, then ten seconds of quiet


def test_quiet_without_deferred_work_ends_after_the_idle_wait(monkeypatch) -> None:
    clock = _Clock()
    monkeypatch.setattr(runner.time, "monotonic", clock)
    _service(clock, pending=0, drain_s=30.0).run(until_idle=10.0)
    assert 10.0 <= clock.now <= 11.0
