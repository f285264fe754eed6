"""ServiceMetrics: its own registry, lag bookkeeping across rebalances, build info."""

from __future__ import annotations

from stream_align import __version__
from stream_align.service.observability import ServiceMetrics


def sample(metrics: ServiceMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_instances_do_not_share_series() -> None:
    first, second = ServiceMetrics(), ServiceMetrics()
    first.count_dead_letter("malformed", 2)
    assert sample(first, "stream_align_dead_letters_total", reason="malformed") == 2
    assert sample(second, "stream_align_dead_letters_total", reason="malformed") is None


def test_lag_is_clamped_and_forgotten_on_revoke() -> None:
    metrics = ServiceMetrics()
    metrics.set_consumer_lag("kg.triples", 0, -3)
    assert sample(metrics, "stream_align_consumer_lag", topic="kg.triples", partition="0") == 0
    metrics.forget_partition("kg.triples", 0)
    metrics.forget_partition("kg.triples", 0)  # revoking twice is harmless
    assert sample(metrics, "stream_align_consumer_lag", topic="kg.triples", partition="0") is None


def test_build_info_follows_the_loaded_model() -> None:
    metrics = ServiceMetrics()
    metrics.set_model_version("cgmualign-7")
    text = metrics.exposition()[0].decode()
    assert f'version="{__version__}"' in text
    assert 'model_version="cgmualign-7"' in text
    assert 'model_version="none"' not in text


def test_deferred_work_is_two_gauges_one_unit_each() -> None:
    metrics = ServiceMetrics()
    metrics.set_deferred(18_960, 1)
    assert sample(metrics, "stream_align_deferred_recomputes") == 18_960
    assert sample(metrics, "stream_align_held_batches") == 1
    metrics.set_deferred(0, 0)
    assert sample(metrics, "stream_align_deferred_recomputes") == 0
    assert sample(metrics, "stream_align_held_batches") == 0


def test_freshness_buckets_reach_from_50_ms_to_10_minutes() -> None:
    metrics = ServiceMetrics()
    for seconds in (0.03, 0.34, 38.0, 700.0, -1.0):  # a skewed clock never goes negative
        metrics.observe_freshness(seconds)
    name = "stream_align_freshness_seconds_bucket"
    assert sample(metrics, name, le="0.05") == 2
    assert sample(metrics, name, le="0.5") == 3
    assert sample(metrics, name, le="60.0") == 4
    assert sample(metrics, name, le="600.0") == 4
    assert sample(metrics, name, le="+Inf") == 5


def test_batch_buckets_reach_a_bulk_batch() -> None:
    metrics = ServiceMetrics()
    metrics.observe_batch(96.0)  # the longest batch measured
    assert sample(metrics, "stream_align_batch_duration_seconds_bucket", le="60.0") == 0
    assert sample(metrics, "stream_align_batch_duration_seconds_bucket", le="120.0") == 1


def test_applied_consumed_and_dead_lettered_are_told_apart() -> None:
    metrics = ServiceMetrics()
    metrics.count_consumed("kg.triples", 5)
    metrics.count_in("kg.triples", "ADD_TRIPLE", 4)
    metrics.count_dead_letter("invalid_json")
    assert sample(metrics, "stream_align_records_consumed_total", topic="kg.triples") == 5
    assert sample(metrics, "stream_align_events_applied_total", topic="kg.triples",
                  op="ADD_TRIPLE") == 4
    assert sample(metrics, "stream_align_dead_letters_total", reason="invalid_json") == 1


def test_process_memory_and_cpu_are_exported() -> None:
    metrics = ServiceMetrics()
    assert (sample(metrics, "process_resident_memory_bytes") or 0) > 10_000_000
    assert sample(metrics, "process_cpu_seconds_total") is not None
