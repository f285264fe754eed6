"""An event's cause ids: merging each node's first ids equals pooling all of them."""

from __future__ import annotations

import random

from stream_align.engine.causes import Causes


def test_of_merges_to_the_smallest_ids_of_the_pooled_causes() -> None:
    rng = random.Random(0)
    causes = Causes()
    for i in range(2000):
        causes.touch(rng.randrange(2), rng.randrange(50), f"id-{rng.randrange(400):04d}", i)
    causes.label([("a", "b")], "id-label", 5000)
    limit = 8
    for side, key in ((0, "a"), (1, "b"), (0, "x")):
        reach = set(rng.sample(range(60), 20))
        pooled = set(causes.entities[side].get(key, ()))
        for node in reach:
            pooled.update(causes.nodes[side].get(node, ()))
        times = [causes.node_time[side][n] for n in reach if n in causes.node_time[side]]
        times += [causes.entity_time[side][key]] if key in causes.entity_time[side] else []
        ids, latest = causes.first(limit).of(side, key, reach, limit)
        assert ids == sorted(pooled)[:limit]
        assert latest == max(times)
