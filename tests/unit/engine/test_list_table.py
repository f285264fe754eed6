"""The numpy list table behaves as the dict of lists it replaced, and stores scores exactly."""

from __future__ import annotations

import numpy as np

from stream_align.engine.list_table import ListTable


def test_list_table_is_the_mapping_it_replaced() -> None:
    rng = np.random.default_rng(0)
    table, truth = ListTable(), {}
    for _ in range(500):
        node = int(rng.integers(0, 60))
        if rng.random() < 0.25:
            assert table.pop(node, ()) == truth.pop(node, ())
            continue
        n = int(rng.integers(0, 25))
        scores = np.sort(rng.random(n).astype(np.float32))[::-1].tolist()
        entries = list(zip(scores, rng.integers(0, 1000, n).tolist(), strict=True))
        table[node] = entries
        if entries:
            truth[node] = entries
        else:
            truth.pop(node, None)
    assert table.keys() == truth.keys() and len(table) == len(truth)
    for node in range(60):
        assert table.get(node, ()) == truth.get(node, ())
        assert (node in table) == (node in truth)
