"""An event's cause ids: merging each node's first ids, hop by hop, equals pooling all of them."""

from __future__ import annotations

import random

import numpy as np
import pytest

from stream_align.engine import causes as causes_module
from stream_align.engine.causes import Causes


def _table(samples: dict[int, list[int]], k: int):
    """``SampleIndex.slot_table``'s neighbours from a dict: one row a node, ``-1`` padded."""
    def table(nodes: np.ndarray) -> np.ndarray:
        out = np.full((len(nodes), k), -1, dtype=np.int64)
        for row, node in enumerate(nodes.tolist()):
            found = samples.get(node, [])
            out[row, :len(found)] = found
        return out
    return table


def _pooled(causes: Causes, samples: dict[int, list[int]], side: int, key: str | None,
            node: int | None, limit: int) -> tuple[list[str], int | None]:
    """The definition: every id of ``L(x)`` and of the key's labels pooled, the smallest kept."""
    if key is None:
        return [], None
    reach = set() if node is None else {node, *samples.get(node, [])}
    reach |= {z for y in reach - {node} for z in samples.get(y, [])}
    pooled = set(causes.entities[side].get(key, ()))
    for n in reach:
        pooled.update(causes.nodes[side].get(n, ()))
    times = [causes.node_time[side][n] for n in reach if n in causes.node_time[side]]
    times += [causes.entity_time[side][key]] if key in causes.entity_time[side] else []
    return sorted(pooled)[:limit], max(times, default=None)


def _random_causes(seed: int, nodes: int, ids: int, touches: int, k: int
                   ) -> tuple[Causes, dict[int, list[int]]]:
    rng = random.Random(seed)
    causes = Causes()
    for i in range(touches):
        causes.touch(rng.randrange(2), rng.randrange(nodes), f"id-{rng.randrange(ids):04d}", i)
    causes.label([("a", "b")], "id-label", 5000)
    causes.label([("c", "b")], "id-0000", -7)
    samples = {x: rng.sample(range(nodes + 20), rng.randrange(k + 1)) for x in range(nodes + 20)}
    return causes, samples


def test_closure_merges_to_the_smallest_ids_of_the_pooled_causes() -> None:
    causes, samples = _random_causes(0, 50, 400, 2000, 5)
    limit = 8
    for side in (0, 1):
        reached = causes.first(limit).closure(side, _table(samples, 5), limit)
        for key, node in (("a", 3), ("b", 7), ("x", 60), ("a", None), ("y", 55), ("c", 69)):
            assert reached.of(key, node) == _pooled(causes, samples, side, key, node, limit)


@pytest.mark.parametrize("cells", [1 << 22, 64, 1])
def test_many_entities_at_once_equal_each_alone(monkeypatch: pytest.MonkeyPatch,
                                                cells: int) -> None:
    """Hubs past the limit, nodes without causes or samples, ``None`` keys and nodes, repeats:
    one batched call gives each entity what the definition pools, in the order asked (in one
    chunk of rows, or cut into many)."""
    monkeypatch.setattr(causes_module, "_CELLS", cells)
    for seed, limit in ((1, 4), (2, 32), (3, 1)):
        causes, samples = _random_causes(seed, 40, 300, 3000, 9)
        rng = random.Random(seed)
        asked = [(rng.choice(["a", "b", "c", "z", None]), rng.choice([None, *range(65)]))
                 for _ in range(200)]
        for side in (0, 1):
            reached = causes.first(limit).closure(side, _table(samples, 9), limit)
            assert reached.of_many(asked) == [
                _pooled(causes, samples, side, key, node, limit) for key, node in asked]
            assert reached.of_many([]) == []


def test_no_causes_at_all() -> None:
    reached = Causes().first(4).closure(0, _table({1: [2]}, 1), 4)
    assert reached.of_many([("a", 1), ("b", None), (None, 3)]) == [([], None)] * 3
