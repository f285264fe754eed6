"""A batch of changes applied at once equals the same changes applied one call each: the
batch's key-to-node lookups (``Applied.known``) never see a stale node, whatever deletes,
re-creations and bare entities the batch holds."""

from __future__ import annotations

import random

from stream_align.engine.apply import Applied, apply_changes
from stream_align.engine.delta import StateDelta
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.settings import EngineSettings
from stream_align.events.contracts import TripleChange


def _changes(seed: int, count: int) -> list[TripleChange]:
    rng = random.Random(seed)
    keys = [f"e{i}" for i in range(12)]
    out = []
    for i in range(count):
        graph, head, tail = rng.choice("AB"), rng.choice(keys), rng.choice(keys)
        kind = rng.random()
        meta = {"id_from": ("c", i), "event_time": i}
        if kind < 0.45:
            out.append(TripleChange.add_triple(graph, head, rng.choice("rs"), tail, **meta))
        elif kind < 0.65:
            out.append(TripleChange.remove_triple(graph, head, rng.choice("rs"), tail, **meta))
        elif kind < 0.85:
            out.append(TripleChange.upsert_entity(graph, head, rng.choice([None, "T"]),
                                                  {"name": rng.choice("xy")}, **meta))
        else:
            out.append(TripleChange.delete_entity(graph, head, **meta))
    return out


def _state(graphs: tuple[MutableGraph, MutableGraph]) -> list[object]:
    out: list[object] = []
    for graph in graphs:
        nodes = range(len(graph.keys))
        out.append([(graph.keys[i], graph.is_alive(i), graph.entity(i),
                     sorted(graph.edges(i)) if graph.is_alive(i) else None) for i in nodes])
    return out


def _graphs() -> tuple[MutableGraph, MutableGraph]:
    return MutableGraph("A", "A"), MutableGraph("B", "B")


def _summary(applied: Applied, base: int) -> tuple[object, ...]:
    return ([(base + p, reason.reason) for p, reason in applied.rejected],
            [row[1:] for row in applied.delta.graph],
            [sorted(t) for t in applied.touched], [sorted(u) for u in applied.upserted],
            [applied.causes.node_ids(side) for side in (0, 1)])


def test_a_batch_equals_its_changes_one_call_each() -> None:
    settings = EngineSettings()
    for seed in range(20):
        changes = _changes(seed, 160)
        batch = _graphs()
        whole = apply_changes(StateDelta(), batch, settings, changes)
        single = _graphs()
        parts = [apply_changes(StateDelta(), single, settings, [change]) for change in changes]
        assert _state(batch) == _state(single)
        rejected, rows, touched, upserted, causes = _summary(whole, 0)
        assert rejected == [r for at, part in enumerate(parts) for r in _summary(part, at)[0]]
        assert rows == [row for part in parts for row in _summary(part, 0)[1]]
        assert touched == [sorted(set().union(*(p.touched[s] for p in parts))) for s in (0, 1)]
        assert upserted == [sorted(set().union(*(p.upserted[s] for p in parts)))
                            for s in (0, 1)]
        for side in (0, 1):
            merged: dict[int, list[str]] = {}
            for part in parts:
                for node, ids in part.causes.node_ids(side).items():
                    merged.setdefault(node, []).extend(ids)
            assert causes[side] == merged
        assert whole.known == ({}, {})
        assert any(reason == "missing_triple" for _, reason in rejected)
