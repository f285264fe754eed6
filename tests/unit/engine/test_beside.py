"""Bulk work on a second thread (decision 0092) gives the same results as one thread: the
candidate lists' next chunk, the pair head's features beside the logits, the events' causes
beside their evidence — compared on whole engine runs, event by event and list by list."""

from __future__ import annotations

import gc
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine import events as events_module
from stream_align.engine import exact_topk, scoring
from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.model.pair_head import PairHead

HEAD = PairHead(weights=(2.0, 1.5, 1.0, 1.0, 1.0, 0.5, 1.0, 0.5, 1.5), bias=-2.5)


def _run(tmp_path: Path, threads: int, bulk_threads: int = 1
         ) -> tuple[list[tuple], list[tuple], dict]:
    """A bulk batch of the whole stream, then small batches; its events (less their ids and
    wall-clock stamps), both sides' lists and the final matches."""
    pair = synthetic_pair(n=120, seed=3)
    bundle = replace(untrained_bundle(pair), pair_head=HEAD)
    engine = AlignmentEngine.empty(bundle, engine_settings(single_thread_below=0,
                                                           bulk_threads=bulk_threads))
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=1))
    torch.set_num_threads(threads)
    try:
        with open_store(tmp_path) as store:
            outcomes = run(store, engine, changes[:-40]) + run(store, engine, changes[-40:],
                                                                batch=10)
    finally:
        torch.set_num_threads(1)
    events = [(e.left, e.right, e.decision, e.score, e.previous_score, e.cause,
               tuple(x.model_dump_json() for x in e.evidence))
              for o in outcomes for e in o.events]
    lists = [(s, node, tuple(side.lists.get(node)))
             for s, side in enumerate(engine.sides) for node in range(len(side.graph.keys))]
    return events, lists, engine.final_alignment()


def test_bulk_work_beside_gives_the_same_engine(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # chunks of 16 rows in both runs (BLAS may round a product differently at another chunk
    # length: the same chunks are what must give the same bits)
    monkeypatch.setattr(exact_topk, "rows_within", lambda columns, *a, **k: 16)
    one = _run(tmp_path / "one", threads=1)
    names: set[str] = set()
    spied = {"features": scoring._head_features, "causes": events_module._causes}

    def spy(key: str):
        def call(*args: object) -> object:
            names.add(f"{key}:{threading.current_thread().name}")
            return spied[key](*args)
        return call

    monkeypatch.setattr(scoring, "_head_features", spy("features"))
    monkeypatch.setattr(events_module, "_causes", spy("causes"))
    chunks_beside: list[str] = []
    scored = exact_topk.InnerProducts.__call__

    def product(self: exact_topk.InnerProducts, q: np.ndarray,
                out: np.ndarray | None = None) -> np.ndarray:
        if threading.current_thread().name.startswith("one-ahead"):
            chunks_beside.append(threading.current_thread().name)
        return scored(self, q, out)

    monkeypatch.setattr(exact_topk.InnerProducts, "__call__", product)
    monkeypatch.setattr(scoring, "BESIDE_PAIRS", 1)
    monkeypatch.setattr(events_module, "BESIDE_EVENTS", 1)
    default = _run(tmp_path / "default", threads=2)  # engine.bulk_threads = 1
    assert not chunks_beside and not [n for n in names if ":beside" in n]
    two = _run(tmp_path / "two", threads=2, bulk_threads=2)
    assert {n.split(":")[0] for n in names if ":beside" in n} == {"features", "causes"}
    assert chunks_beside
    assert one[0] and one[1]
    assert one == two == default
    assert np.array_equal(*(np.asarray([e[3] for e in r[0]], dtype=np.float64)
                            for r in (one, two)))


def test_a_groups_features_beside_leave_no_cycle(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch runs with the collector off, so a reference cycle lives to the call's end: the
    features' blocks taken from the back (``TwoEnds``) held their closure, and it held them,
    with every group's pair-head views (decision 0121). None is left once the groups ran."""
    monkeypatch.setattr(scoring, "BESIDE_PAIRS", 1)
    monkeypatch.setattr(scoring, "GROUP_ENTITIES", 16)  # several groups a refresh
    ran = []
    started = scoring.TwoEnds.start

    def start(self: scoring.TwoEnds, *args: object) -> None:
        ran.append(1)
        started(self, *args)

    monkeypatch.setattr(scoring.TwoEnds, "start", start)
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        _run(tmp_path, threads=2, bulk_threads=2)
        alive = [o for o in gc.get_objects() if isinstance(o, scoring.TwoEnds)]
    finally:
        if enabled:
            gc.enable()
    assert len(ran) > 1 and not alive
