"""The collection at a batch's end finds none of its records: the decoded inputs and the
messages as read are let go once the batch committed and published; its offsets stay."""

from types import SimpleNamespace

from stream_align.service import collector
from stream_align.service.batch import DecodedBatch
from stream_align.service.runner import AlignmentService
from stream_align.store.records import TopicPartition


def test_a_batch_lets_its_records_go_before_the_collection(monkeypatch) -> None:
    batch = DecodedBatch(changes=["change"], change_messages=["m1"], labels=["label"],
                         label_messages=["m2"], dead_letters=["letter"],
                         next_offsets={TopicPartition("kg.triples", 0): 7})
    batch.duplicates["kg.triples"] = 2
    messages = ["m1", "m2", "m3"]
    seen: list[tuple[int, ...]] = []

    def freeze() -> float:
        seen.append((len(batch.changes), len(batch.change_messages), len(batch.labels),
                     len(batch.label_messages), len(batch.dead_letters), len(messages)))
        return 0.0

    monkeypatch.setattr(collector, "freeze_survivors", freeze)
    service = AlignmentService.__new__(AlignmentService)
    service._runner = SimpleNamespace(trim_heap=False, trim_heap_above_bytes=0)
    service._settled = True  # the allocator is not this test's
    service._metrics = SimpleNamespace(observe_batch=lambda took: None)
    applied: list[int] = []
    service._apply = lambda b: applied.append(len(b.changes))  # type: ignore[method-assign]
    service._publish = lambda: None  # type: ignore[method-assign]
    service._timed(batch, messages, 0.0)
    assert applied == [1]  # the engine saw the records
    assert seen == [(0, 0, 0, 0, 0, 0)]
    assert batch.next_offsets == {TopicPartition("kg.triples", 0): 7}
    assert batch.duplicates["kg.triples"] == 2


def test_a_restore_runs_with_the_collector_off() -> None:
    """A restore builds the whole state: a full collection each time it grew by a quarter
    walked it again (decision 0132). The collector is off inside, as it was before after."""
    import gc
    from contextlib import nullcontext

    seen: list[bool] = []

    def factory(source, progress) -> str:
        seen.append(gc.isenabled())
        return "engine"

    service = AlignmentService.__new__(AlignmentService)
    service._store = SimpleNamespace(transaction=lambda: nullcontext("tx"))
    service._health = SimpleNamespace(progress=lambda *a: None)
    service._engine_factory = factory
    was = gc.isenabled()
    gc.enable()
    try:
        service._restore()
        assert gc.isenabled()
    finally:
        if not was:
            gc.disable()
    assert seen == [False] and service._engine == "engine"
