"""``NodeMap``: a dict-like map by node id over a growing array."""

from __future__ import annotations

import numpy as np

from stream_align.engine.node_map import NodeMap


def test_node_map_reads_like_a_dict() -> None:
    nodes = NodeMap()
    nodes[5], nodes[0] = 7, 3
    nodes[5] = 8  # replaced, not counted twice
    assert len(nodes) == 2 and nodes.get(5) == 8 and nodes.get(1) is None
    assert 0 in nodes and 2 not in nodes and nodes.get(10_000, -1) == -1
    assert dict(nodes.items()) == {0: 3, 5: 8} and list(nodes) == [0, 5]
    assert nodes.of(np.array([5, 1, 99])).tolist() == [8, -1, -1]
    assert nodes.pop(0) == 3 and nodes.pop(0) is None and len(nodes) == 1
    nodes.clear()
    assert len(nodes) == 0 and nodes.keys() == set()


def test_float_node_map_marks_none_with_nan() -> None:
    scores = NodeMap(floats=True)
    scores[2] = 0.0  # a zero is a value, not "none"
    assert scores.get(2) == 0.0 and scores.get(3) is None and len(scores) == 1
    assert np.isnan(scores.of(np.array([3]))).all()
