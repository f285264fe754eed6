"""A small graph pair where names are ambiguous and neighbours decide."""

from __future__ import annotations

import numpy as np
import pytest

from stream_align.graph import Graph, GraphPair

HUBS = 12


def _graph(label: str, names: list[str], edges: list[tuple[int, int]]) -> Graph:
    n = len(names)
    triples = np.array([(h, 0, t) for h, t in edges], dtype=np.int64).reshape(-1, 3)
    return Graph(label=label, keys=[f"{label.lower()}:{i:06d}" for i in range(n)], names=names,
                 types=[""] * n, attributes=[{} for _ in range(n)], relations=["linked"],
                 triples=triples)


def twin_pair(hide_names: bool = False) -> GraphPair:
    """Hubs with unique names; two leaves per hub *pair*, twins sharing one name, each linked to a
    different hub. Names alone cannot tell twins apart; the hub neighbour can. In graph B the
    entity order is reversed so indices carry no hint. Hubs are the training pairs, leaves test."""
    hub_names = [f"city of {word}" for word in
                 ("oslo", "lima", "kyiv", "baku", "rome", "doha", "bern", "riga", "sofia",
                  "quito", "hanoi", "tunis")[:HUBS]]
    leaf_names, leaf_hub = [], []
    for k in range(HUBS // 2):
        leaf_names += [f"john smith {k}"] * 2
        leaf_hub += [2 * k, 2 * k + 1]
    names = hub_names + leaf_names
    edges = [(HUBS + i, hub) for i, hub in enumerate(leaf_hub)]
    n = len(names)
    flip = np.arange(n)[::-1]  # index in A → index in B
    b_names = [names[flip[j]] for j in range(n)]
    b_edges = [(int(flip[h]), int(flip[t])) for h, t in edges]
    hidden = [""] * n
    a = _graph("A", hidden if hide_names else names, edges)
    b = _graph("B", hidden if hide_names else b_names, b_edges)
    gold = np.stack([np.arange(n), flip], axis=1).astype(np.int64)
    return GraphPair(name="twins", a=a, b=b, train=gold[:HUBS], valid=np.zeros((0, 2), np.int64),
                     test=gold[HUBS:])


@pytest.fixture
def pair() -> GraphPair:
    return twin_pair()


@pytest.fixture
def hidden_pair() -> GraphPair:
    return twin_pair(hide_names=True)
