"""The held work's node sets as arrays: the same answers as Python sets."""

from __future__ import annotations

import random

import numpy as np

from stream_align.engine.causes import Causes
from stream_align.engine.held import HeldWork
from stream_align.engine.node_set import NodeSet


def test_a_node_set_answers_as_a_set_over_many_updates() -> None:
    """Repeats, updates past the fold bound, reads between updates: iteration (ascending),
    ``len``, ``in``, unions and differences equal those of a ``set`` fed the same nodes."""
    rng = random.Random(0)
    nodes, plain = NodeSet(), set()
    for step in range(60):
        part = [rng.randrange(20_000) for _ in range(rng.randrange(0, 3_000))]
        nodes.update(part if step % 3 else set(part))
        plain.update(part)
        if step % 7 == 0:
            assert len(nodes) == len(plain) and list(nodes) == sorted(plain)
    other = NodeSet(range(0, 30_000, 7))
    assert list(nodes) == sorted(plain) and nodes == plain
    assert nodes.array().dtype == np.int32
    assert all((x in nodes) == (x in plain) for x in (*range(-2, 40), 19_999, 20_000, "a", None))
    assert isinstance(nodes | other, NodeSet) and nodes | other == plain | set(other)
    assert nodes | {None} == plain | {None} and {None} | nodes == plain | {None}
    assert nodes - {1, 2} == plain - {1, 2} and nodes & other == plain & set(other)
    both = NodeSet()
    both.update(nodes)
    assert both == plain


def test_held_work_gathers_calls_into_node_sets() -> None:
    held = HeldWork()
    held.add(({1, 5}, {2}), (set(), {9}), [], Causes(), touched=({5, 6}, set()))
    held.add(({5, 3}, set()), ({4}, set()), [], Causes(), touched=({7}, {8}))
    assert [list(s) for s in held.computed] == [[1, 3, 5], [2]]
    assert [list(s) for s in held.removed] == [[4], [9]]
    assert [list(s) for s in held.touched] == [[5, 6, 7], [8]]
    assert held.changed == 4
