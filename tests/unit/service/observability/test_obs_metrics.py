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


def test_deferred_work_is_a_gauge_per_kind() -> None:
    metrics = ServiceMetrics()
    metrics.set_deferred(18_960, 1)
    assert sample(metrics, "stream_align_deferred_work", kind="recomputes") == 18_960
    assert sample(metrics, "stream_align_deferred_work", kind="held_batches") == 1
    metrics.set_deferred(0, 0)  # drained
    assert sample(metrics, "stream_align_deferred_work", kind="recomputes") == 0
