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
    ids, node_time = causes.node_ids(side), causes.node_times(side)
    for n in reach:
        pooled.update(ids.get(n, ()))
    times = [node_time[n] for n in reach if n in node_time]
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


@pytest.mark.parametrize("shared", [False, True])
def test_closure_merges_to_the_smallest_ids_of_the_pooled_causes(shared: bool) -> None:
    """Each side's closure with its own ranking of the held ids, or both with one (as a
    refresh's events rank them): label ids of both sides and an id that is both a label's and
    a touch's ranked with the rest."""
    causes, samples = _random_causes(0, 50, 400, 2000, 5)
    limit = 8
    first = causes.first(limit)
    vocab = first.vocabulary() if shared else None
    for side in (0, 1):
        reached = first.closure(side, _table(samples, 5), limit, vocab)
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


def _split(causes_list: list[tuple[int, int, str, int]], parts: int) -> Causes:
    """The touches fed to ``parts`` Causes (one a call) merged as held work merges them."""
    held = Causes()
    step = max(1, len(causes_list) // parts)
    for lo in range(0, len(causes_list), step):
        call = Causes()
        for side, node, event_id, when in causes_list[lo:lo + step]:
            call.touch(side, node, event_id, when)
        held.merge(call)
    return held


@pytest.mark.parametrize("alphabet", ["ab", "aé€\U0001f600", "a\0b", "a\ud800z"])
def test_merged_calls_and_any_id_text_equal_the_definition(alphabet: str) -> None:
    """Ids of any text (non-ASCII, NUL bytes — ranked by Python's sort —, lone surrogates,
    prefixes of each other), the same id text from different inputs, touches merged over
    calls: each entity still gets the smallest ids by string order and the latest time."""
    rng = random.Random(len(alphabet))
    touches = [(rng.randrange(2), rng.randrange(30),
                "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 4))),
                rng.randrange(-5, 500)) for _ in range(1500)]
    samples = {x: rng.sample(range(40), rng.randrange(4)) for x in range(40)}
    _merged_equal_the_definition(touches, samples, alphabet[-1] * 2)


def _merged_equal_the_definition(touches: list[tuple[int, int, str, int]],
                                 samples: dict[int, list[int]], label: str) -> Causes:
    """``touches`` held in one call, in 7 and in one a touch, merged, with a label: each held
    the same, and each entity's closure of each equal to the definition. The one call's."""
    whole = _split(touches, 1)
    whole.label([("k", "m")], label, 9)
    for parts in (1, 7, 1500):
        held = _split(touches, parts)
        held.label([("k", "m")], label, 9)
        assert held.node_ids(0) == whole.node_ids(0) and held._packed == whole._packed
        for side in (0, 1):
            reached = held.first(5).closure(side, _table(samples, 4), 5)
            asked = [(key, node) for key in ("k", "m", "z") for node in (None, *range(0, 40, 3))]
            assert reached.of_many(asked) == [
                _pooled(whole, samples, side, key, node, 5) for key, node in asked]
    return whole


def test_a_changes_touches_share_one_id_entry() -> None:
    """Consecutive touches of one input keep its id once (bytes, not one per touch)."""
    causes = Causes()
    event_id = "event-1"
    for node in range(4):
        causes.touch(node % 2, node, event_id, 7)
    causes.touch(0, 9, "event-2", 8)
    assert len(causes._time) == 2
    assert causes.node_ids(0) == {0: ["event-1"], 2: ["event-1"], 9: ["event-2"]}
    assert causes.node_times(1) == {1: 7, 3: 7}


def test_an_edges_touch_is_two_touches() -> None:
    """``touch_edge`` leaves every column as touching the head, then the tail."""
    edges, nodes = Causes(), Causes()
    for at, (side, head, tail, event_id, when) in enumerate(
            [(0, 1, 2, "a", 5), (0, 2, 2, "a", 5), (1, 3, 4, "b", 5), (1, 4, 3, "b", 6),
             (0, 1, 7, "c", 1), (1, 0, 0, "c", 1)]):
        edges.touch_edge(side, head, tail, event_id, when)
        nodes.touch(side, head, event_id, when)
        nodes.touch(side, tail, event_id, when)
        if at == 3:
            edges.touch(0, 5, "d", 2)
            nodes.touch(0, 5, "d", 2)
    assert bytes(edges._blob) == bytes(nodes._blob)
    for name in ("_ends", "_time"):
        assert getattr(edges, name) == getattr(nodes, name)
    for side in (0, 1):
        assert edges._node[side] == nodes._node[side]
        assert edges._entry[side] == nodes._entry[side]


def test_smallest_rows_keep_no_view_of_the_sorted_block() -> None:
    """The result owns its ``limit`` columns: a chunk's result held in a list does not keep
    the chunk's whole ``(rows, width)`` sort alive."""
    from stream_align.engine.cause_ids import smallest_rows
    ids = np.array([[5, 1, 5, 9, 2, 7], [3, 3, 3, 3, 3, 3]], dtype=np.int32)
    out = smallest_rows(ids, 2, 99)
    assert out.tolist() == [[1, 2], [3, 99]]
    assert out.base is None and out.nbytes == 2 * 2 * 4


def _hex(n: int) -> str:
    """A ``new_event_id``-shaped id (32 lowercase hex digits), leading zero bytes and all."""
    return f"{n * 0x9E3779B97F4A7C15 % (1 << 128):032x}" if n % 5 else f"{n:032x}"


@pytest.mark.parametrize(("other", "label"), [
    (None, _hex(7)), (None, "label-1"), (40, _hex(7)), (900, "Z"), (1499, _hex(3))])
def test_hex_ids_held_packed_name_the_same_ids(other: int | None, label: str) -> None:
    """Ids of 32 lowercase hex digits are held as their 16 bytes (no ends) until another id
    comes (at touch ``other``; uppercase hex is another id), in calls merged either way round;
    labels packed or not: each entity gets the ids and time the definition pools."""
    rng = random.Random(other or 0)
    touches = [(rng.randrange(2), rng.randrange(30), _hex(rng.randrange(400)),
                rng.randrange(-5, 500)) for _ in range(1500)]
    if other is not None:
        touches[other] = (*touches[other][:2], _hex(1).upper(), 3)
    samples = {x: rng.sample(range(40), rng.randrange(4)) for x in range(40)}
    whole = _merged_equal_the_definition(touches, samples, label)
    assert whole._packed == (other is None)
    if other is None:
        assert len(whole._blob) == 16 * len(whole._time) and not len(whole._ends)


def test_a_text_id_merged_into_packed_ids_unpacks_them() -> None:
    """A call with a text id merged into packed held work (and packed into text) keeps every
    id's text and entry."""
    packed, text = Causes(), Causes()
    packed.touch(0, 1, _hex(1), 1)
    text.touch(1, 2, "plain", 2)
    mixed = Causes()
    for part in (packed, text, packed):
        mixed.merge(part)
    assert not mixed._packed
    assert mixed.node_ids(0) == {1: [_hex(1), _hex(1)]}
    assert mixed.node_ids(1) == {2: ["plain"]}
    assert [mixed._id(i) for i in range(3)] == [_hex(1), "plain", _hex(1)]
