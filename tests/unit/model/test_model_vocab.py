"""Relation ids of directed edges: an out-edge, its in-edge right after, unknown stays unknown."""

import numpy as np

from stream_align.graph import Graph
from stream_align.model.vocab import directed_edges


def _graph(triples: list[tuple[int, int, int]]) -> Graph:
    return Graph(label="A", keys=["a", "b", "c"], names=["", "", ""], types=["", "", ""],
                 attributes=[{}, {}, {}], relations=["knows", "new"],
                 triples=np.array(triples, dtype=np.int64))


def test_an_unknown_relation_has_no_direction() -> None:
    """Relation 0 is known (out id 1, in id 2); relation 1 was never seen (id 0 both ways)."""
    edges = directed_edges(_graph([(0, 0, 1), (1, 1, 2)]), np.array([1, 0]))
    assert edges.tolist() == [[0, 1, 1], [1, 2, 0], [1, 0, 2], [2, 1, 0]]
