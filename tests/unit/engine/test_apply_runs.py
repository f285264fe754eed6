"""A batch's runs of added triples (``apply._add_run``), the bare entities they create
included, leave exactly what the same changes applied one at a time leave (an ADD as
``_add_one`` below, every other change by ``apply._apply_at``): the graphs (with each edge
table's recent changes in the same order), the rows, the touched sets in the same insertion
order, the upserted nodes, the rejections and the causes' columns byte for byte."""

from __future__ import annotations

import random

from stream_align.engine import apply
from stream_align.engine.apply import Applied, apply_changes
from stream_align.engine.delta import GraphOp, StateDelta
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.settings import EngineSettings
from stream_align.events.contracts import TripleChange, TripleOp


def _changes(rng: random.Random, count: int, adds: float, base: int) -> list[TripleChange]:
    # 40 keys: a small set of node ids above its table size holds them in insertion order
    keys = [f"e{i}" for i in range(rng.choice([10, 40]))]
    shared = "shared-id"  # one id object for several changes: their touches share an entry
    out = []
    for i in range(count):
        graph, head = rng.choice("ABC" if rng.random() < 0.03 else "AB"), rng.choice(keys)
        tail = head if rng.random() < 0.1 else rng.choice(keys)
        meta = {"id_from": ("c", base + i), "event_time": rng.choice([base + i, 7])}
        kind = rng.random()
        if kind < adds:
            out.append(TripleChange.add_triple(graph, head, rng.choice("rst"), tail, **meta))
        elif kind < adds + (1 - adds) * 0.4:
            out.append(TripleChange.remove_triple(graph, head, rng.choice("rst"), tail, **meta))
        elif kind < adds + (1 - adds) * 0.8:
            out.append(TripleChange.upsert_entity(graph, head, rng.choice([None, "T"]),
                                                  {"name": rng.choice("xy")}, **meta))
        else:
            out.append(TripleChange.delete_entity(graph, head, **meta))
        if rng.random() < 0.1:
            out[-1] = out[-1].model_copy(update={"event_id": shared})
    return out


def _key_node(graph: MutableGraph, side: int, key: str, change: TripleChange,
              out: Applied) -> int:
    """``key``'s node; if it is not alive, a bare entity for it, recorded."""
    node = graph.index.get(key)
    if node is not None and graph.is_alive(node):
        return node
    node = graph.upsert(key, "", {})
    out.touch(side, node, change)
    out.upserted[side].add(node)
    out.row(GraphOp.UPSERT_ENTITY, graph.graph_id, key)
    return node


def _add_one(graph: MutableGraph, side: int, change: TripleChange, out: Applied) -> None:
    """One ADD_TRIPLE, a call a step: the ends looked up, a missing one created bare (the
    head first), the triple added, its row and touches if it was new."""
    head, relation, tail = change.head, change.relation or "", change.tail or ""
    h = graph.index.get(head)
    h = h if h is not None and graph.is_alive(h) else None
    t = graph.index.get(tail)
    t = t if t is not None and graph.is_alive(t) else None
    if h is None:
        h = _key_node(graph, side, head, change, out)
        t = h if tail == head else t
    if t is None:
        t = _key_node(graph, side, tail, change, out)
    if graph.add_triple(h, graph.relation_id(relation), t):
        out.row(GraphOp.ADD_TRIPLE, graph.graph_id, head, relation, tail)
        out.touch_edge(side, h, t, change)


def _one_at_a_time(graphs: tuple[MutableGraph, MutableGraph], settings: EngineSettings,
                   changes: list[TripleChange]) -> Applied:
    out = Applied(StateDelta())
    with graphs[0].held_merges(), graphs[1].held_merges():
        for position, change in enumerate(changes):
            if change.op is TripleOp.ADD_TRIPLE and change.graph in settings.graph_ids:
                out.position = position
                side = settings.graph_ids.index(change.graph)
                _add_one(graphs[side], side, change, out)
            else:
                apply._apply_at(graphs, settings, change, position, out)
    out.known = ({}, {})
    return out


def _tables(graph: MutableGraph) -> list[object]:
    return [(table._node.tolist(), table._end.tolist(),
             [(node, list(row.items())) for node, row in table._delta.items()], table._changes)
            for table in (graph.out, graph.inn)]


def _everything(graphs: tuple[MutableGraph, MutableGraph], out: Applied) -> list[object]:
    causes = out.causes
    return [[(g.relations, g.triple_count, _tables(g), list(g.keys), g.alive_indices())
             for g in graphs],
            out.delta.graph, out.rejected, [list(t) for t in out.touched],
            [list(u) for u in out.upserted],
            (bytes(causes._blob), causes._ends.tolist(), causes._time.tolist(),
             [causes._node[s].tolist() for s in (0, 1)],
             [causes._entry[s].tolist() for s in (0, 1)])]


def test_runs_leave_what_one_change_at_a_time_leaves() -> None:
    settings = EngineSettings(graph_ids=("A", "B"))
    for seed in range(40):
        rng = random.Random(seed)
        adds = rng.choice([0.45, 0.8, 0.95, 1.0])
        runs = (MutableGraph("A", "A"), MutableGraph("B", "B"))
        single = (MutableGraph("A", "A"), MutableGraph("B", "B"))
        for call in range(3):  # later calls find merged edges (``len`` merges a table)
            changes = _changes(rng, rng.choice([1, 5, 60, 200]), adds, 1000 * call)
            got = apply_changes(StateDelta(), runs, settings, changes)
            want = _one_at_a_time(single, settings, changes)
            assert _everything(runs, got) == _everything(single, want), (seed, call)
            for graph in runs + single:
                assert len(graph.out) == len(graph.inn)


def test_a_run_reports_its_progress_every_scan_step(monkeypatch) -> None:
    monkeypatch.setattr(apply, "SCAN_REPORT_EVERY", 4)
    reports: list[tuple[str, int, int]] = []
    changes = [TripleChange.add_triple("A", f"h{i % 3}", "r", f"t{i}", id_from=("c", i),
                                       event_time=i) for i in range(10)]
    graphs = (MutableGraph("A", "A"), MutableGraph("B", "B"))
    apply_changes(StateDelta(), graphs, EngineSettings(graph_ids=("A", "B")), changes,
                  lambda stage, done, total: reports.append((stage, done, total)))
    assert reports == [("apply", 0, 10), ("apply", 4, 10), ("apply", 8, 10), ("apply", 10, 10)]
