"""An event's cause ids: merging each node's first ids, hop by hop, equals pooling all of them."""

from __future__ import annotations

import random

from stream_align.engine.causes import Causes


def test_closure_merges_to_the_smallest_ids_of_the_pooled_causes() -> None:
    rng = random.Random(0)
    causes = Causes()
    for i in range(2000):
        causes.touch(rng.randrange(2), rng.randrange(50), f"id-{rng.randrange(400):04d}", i)
    causes.label([("a", "b")], "id-label", 5000)
    samples = {x: rng.sample(range(70), rng.randrange(6)) for x in range(70)}
    limit = 8
    for side in (0, 1):
        reached = causes.first(limit).closure(side, lambda x: samples[x], limit)
        for key, node in (("a", 3), ("b", 7), ("x", 60), ("a", None), ("y", 55)):
            reach = set() if node is None else {node, *samples[node]}
            reach |= {z for y in reach - {node} for z in samples[y]}
            pooled = set(causes.entities[side].get(key, ()))
            for n in reach:
                pooled.update(causes.nodes[side].get(n, ()))
            times = [causes.node_time[side][n] for n in reach if n in causes.node_time[side]]
            times += [causes.entity_time[side][key]] if key in causes.entity_time[side] else []
            assert reached.of(key, node) == (sorted(pooled)[:limit], max(times, default=None))
