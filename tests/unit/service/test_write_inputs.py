"""A delta's graph rows written in segments (each graph's added triples at once) leave the
store as writing every row in input order does."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from stream_align.engine.delta import GraphOp, GraphRow, StateDelta
from stream_align.engine.errors import InputFailedError
from stream_align.service.engine_state import _write_graph, write_delta
from stream_align.store import StateStore, StoreSettings
from stream_align.store.keys import Table

_TABLES = (Table.ENTITY, Table.FORWARD, Table.REVERSE, Table.DEGREE)


def _store(path: Path) -> StateStore:
    return StateStore(StoreSettings(path=path, block_cache_mb=8, memtable_budget_mb=8))


def _rows(rng: random.Random, count: int) -> list[GraphRow]:
    rows = []
    for position in range(count):
        graph, head, tail = rng.choice("AB"), f"e{rng.randrange(5)}", f"e{rng.randrange(5)}"
        op = rng.choices(list(GraphOp), weights=(3, 1, 8, 3))[0]
        if op is GraphOp.UPSERT_ENTITY:
            rows.append(GraphRow(position, op, graph, head, "", "", rng.choice(["", "t"]),
                                 (("name", f"n{rng.randrange(3)}"),)))
        elif op is GraphOp.DELETE_ENTITY:
            rows.append(GraphRow(position, op, graph, head))
        else:
            rows.append(GraphRow(position, op, graph, head, f"r{rng.randrange(2)}", tail))
    return rows


def _contents(store: StateStore) -> dict[Table, list[tuple[bytes, bytes]]]:
    with store.transaction() as tx:
        return {table: list(tx.rows(table)) for table in _TABLES}


@pytest.mark.parametrize("seed", range(6))
def test_segments_write_what_rows_in_order_write(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    with _store(tmp_path / "bulk") as bulk, _store(tmp_path / "rows") as rows:
        for _ in range(4):  # later batches meet stored triples and counters
            delta = StateDelta(graph=_rows(rng, 60))
            with bulk.transaction() as tx:
                write_delta(tx, delta)
            with rows.transaction() as tx, tx.graph.summed_degrees():
                for row in delta.graph:
                    _write_graph(tx, row)
        assert _contents(bulk) == _contents(rows)


def test_a_refused_added_triple_names_its_input(tmp_path: Path) -> None:
    delta = StateDelta(graph=[
        GraphRow(0, GraphOp.ADD_TRIPLE, "A", "a", "r", "b"),
        GraphRow(1, GraphOp.UPSERT_ENTITY, "B", "x"),
        GraphRow(2, GraphOp.ADD_TRIPLE, "A", "a", "r", "\ud800"),
        GraphRow(3, GraphOp.ADD_TRIPLE, "A", "b", "r", "c")])
    with _store(tmp_path / "db") as store, store.transaction() as tx:
        with pytest.raises(InputFailedError) as failed:
            write_delta(tx, delta)
        assert (failed.value.kind, failed.value.position) == ("change", 2)
        tx.rollback()
