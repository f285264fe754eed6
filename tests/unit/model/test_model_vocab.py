"""Relation ids of directed edges: an out-edge, its in-edge right after, unknown stays unknown."""

import numpy as np

from stream_align.graph import Graph
from stream_align.model.vocab import KNOWN_RELATION_LISTS, UNKNOWN, Vocab, directed_edges


def _graph(triples: list[tuple[int, int, int]]) -> Graph:
    return Graph(label="A", keys=["a", "b", "c"], names=["", "", ""], types=["", "", ""],
                 attributes=[{}, {}, {}], relations=["knows", "new"],
                 triples=np.array(triples, dtype=np.int64))


def test_an_unknown_relation_has_no_direction() -> None:
    """Relation 0 is known (out id 1, in id 2); relation 1 was never seen (id 0 both ways)."""
    edges = directed_edges(_graph([(0, 0, 1), (1, 1, 2)]), np.array([1, 0]))
    assert edges.tolist() == [[0, 1, 1], [1, 2, 0], [1, 0, 2], [2, 1, 0]]


def _with(relations: list[str]) -> Graph:
    return Graph(label="A", keys=["a"], names=[""], types=[""], attributes=[{}],
                 relations=relations, triples=np.zeros((0, 3), dtype=np.int64))


def test_relation_ids_of_lists_asked_alternately_and_grown() -> None:
    """Two mirrors ask alternately and a list grows: every answer equals a fresh vocabulary's,
    a caller's changes to an answer do not reach the kept one, and the kept lists stay few."""
    vocab = Vocab(relations=[UNKNOWN, "knows>", "knows<", "born<", "born>"], types=[UNKNOWN],
                  type_centroids=None)
    a = _with(["http://x.org/knows", "http://x.org/born"])
    b = _with(["http://y.org/p#born", "odd"])
    grown = _with([*a.relations, "http://x.org/new"])
    for graph, want in [(a, [1, 4]), (b, [4, 0]), (a, [1, 4]), (b, [4, 0]), (grown, [1, 4, 0])]:
        ids = vocab.relation_ids(graph)
        assert ids.tolist() == want
        ids[:] = -1
    for n in range(2 * KNOWN_RELATION_LISTS):
        assert vocab.relation_ids(_with(["knows"] * (n + 1))).tolist() == [1] * (n + 1)
    assert len(vocab._known_ids) == KNOWN_RELATION_LISTS
    assert vocab.relation_ids(a).tolist() == [1, 4]
