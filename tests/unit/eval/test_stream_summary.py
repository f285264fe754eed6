"""Precision/recall of a streaming run's current alignments against the gold test pairs."""

import numpy as np
import pytest

from stream_align.eval.stream_summary import summarise
from stream_align.graph import Graph, GraphPair


def _graph(label: str, n: int) -> Graph:
    return Graph(label=label, keys=[f"{label}{i}" for i in range(n)], names=[""] * n,
                 types=[""] * n, attributes=[{}] * n, relations=[],
                 triples=np.zeros((0, 3), np.int64))


def test_counts_only_lefts_with_a_gold_test_partner():
    pair = GraphPair(name="t", a=_graph("A", 5), b=_graph("B", 5), train=np.array([[4, 4]]),
                     valid=np.zeros((0, 2), np.int64), test=np.array([[0, 0], [1, 1], [2, 2]]))
    current = {"A0": "B0", "A1": "B2", "A4": "B4"}  # one right, one wrong, one train pair
    summary = summarise(pair, current, [10.0, 20.0, 30.0])
    assert (summary.alignments, summary.predicted_on_test, summary.correct) == (3, 2, 1)
    assert summary.precision == pytest.approx(0.5)
    assert summary.recall == pytest.approx(1 / 3)
    assert summary.f1 == pytest.approx(2 * 0.5 * (1 / 3) / (0.5 + 1 / 3))
    assert summary.freshness_ms_p50 == pytest.approx(20.0)


def test_no_freshness_without_events():
    pair = GraphPair(name="t", a=_graph("A", 1), b=_graph("B", 1), train=np.zeros((0, 2), int),
                     valid=np.zeros((0, 2), int), test=np.array([[0, 0]]))
    summary = summarise(pair, {}, [])
    assert summary.freshness_ms_p99 is None
    assert summary.recall == 0.0
