"""A restore on two threads (``restore_threads=2``, decision 0088) restores the same engine as
one thread: samples, vectors, lists, CSLS heads, shared-anchor heads, probed cells, queue and
pair scores; ``side_pair`` runs both sides and never leaves one running after an error."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine.candidate_state import fingerprint
from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.side_pair import serial, side_pair
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.service.engine_state import StoredState

torch.set_num_threads(1)
IVF = {"candidate_index": "ivf", "ivf_train_min": 80, "ivf_cells": 8, "ivf_probe": 2}


@pytest.fixture(scope="module")
def pair() -> GraphPair:
    return synthetic_pair(n=120, seed=3)


@pytest.fixture(scope="module")
def bundle(pair: GraphPair) -> ModelBundle:
    return untrained_bundle(pair)


def test_side_pair_runs_side_one_on_a_second_thread() -> None:
    names: dict[int, str] = {}

    def work(s: int) -> int:
        names[s] = threading.current_thread().name
        return 10 + s

    assert serial(work) == (10, 11)
    with side_pair(2) as both:
        assert both(work) == (10, 11)
    assert names[0] == threading.current_thread().name != names[1]
    with side_pair(1) as both:
        assert both is serial


def test_side_pair_waits_for_the_other_side_before_raising() -> None:
    finished: list[int] = []

    def work(s: int) -> None:
        if s == 0:
            raise ValueError("side 0")
        time.sleep(0.2)
        finished.append(s)

    with side_pair(2) as both, pytest.raises(ValueError, match="side 0"):
        both(work)
    assert finished == [1]  # side 1 was done before the error left ``both``

    def second_fails(s: int) -> None:
        if s == 1:
            raise KeyError("side 1")

    with side_pair(2) as both, pytest.raises(KeyError, match="side 1"):
        both(second_fails)


def _state(engine: AlignmentEngine) -> list[np.ndarray]:
    """The restored tables, by node (both restores number nodes alike: keys in order)."""
    out: list[np.ndarray] = []
    for side in engine.sides:
        nodes = np.arange(len(side.graph.keys), dtype=np.int64)
        out += [*side.samples.slot_table(nodes), *side.lists.rows(nodes), side.faiss_ids(nodes),
                side.lists.hubs(nodes), side.bounds(nodes), side.take_cells_changed()]
        out += [np.array([list(side.cands.get(n)) for n in nodes.tolist()], dtype=object)]
        assert side.probers is not None
        out += [side.probers.rows(nodes), side.vectors(side.indexed().tolist())]
    assert engine.anchors is not None
    out += [engine.anchors.holds(s, np.repeat(np.arange(40), 40), np.tile(np.arange(40), 40))
            for s in (0, 1)]
    out += [np.array(sorted(engine.book.scores.items()), dtype=object),
            np.array([sorted(engine.pending[s].items()) for s in (0, 1)], dtype=object)]
    return out


def _restores(store, bundle: ModelBundle) -> list[list[np.ndarray]]:
    got = []
    for threads in (1, 2, 1):
        settings = engine_settings(**IVF, max_affected_per_batch=60, restore_threads=threads)
        with store.transaction() as tx:
            got.append(_state(AlignmentEngine.restore(bundle, StoredState(tx), settings)))
    return got


@pytest.mark.parametrize("drained", [True, False])
def test_two_threads_restore_what_one_restores(tmp_path: Path, pair: GraphPair,
                                               bundle: ModelBundle, drained: bool) -> None:
    """Drained, the lists are read (decision 0067); mid-drain, rebuilt with a queue left."""
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=5))
    live = AlignmentEngine.empty(bundle, engine_settings(**IVF, max_affected_per_batch=60))
    with open_store(tmp_path / "db") as store:
        run(store, live, changes, batch=80)
        while drained and live.pending_count:
            run(store, live, [])
        assert bool(live.pending_count) != drained
        with store.transaction() as tx:
            current = tx.candidates.state() == fingerprint(bundle.version, live.settings)
        assert current == drained
        got = _restores(store, bundle)
    for other in got[1:]:
        assert len(other) == len(got[0])
        for a, b in zip(got[0], other, strict=True):
            assert a.shape == b.shape and (a.dtype == object or a.dtype == b.dtype)
            assert np.array_equal(a, b) if a.dtype != object else a.tolist() == b.tolist()
