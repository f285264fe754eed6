"""IVF cells that follow the graphs (decision 0068): with ``ivf_cells`` 0 the quantiser is
trained again at each 4× growth, every list rebuilt on the new cells — streamed lists stay
equal to a fresh IVF search, the batch aligner on the stored quantiser finds the same matches,
and an engine restored before a re-training re-trains as the one that wrote the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle
from test_engine_ivf import _assert_lists_fresh, _cells, _changes

from stream_align.engine import ivf_lists
from stream_align.engine.batch_align import IvfCells, align
from stream_align.engine.engine import AlignmentEngine
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings
from stream_align.service.engine_state import StoredState

torch.set_num_threads(1)
GROWING = {"candidate_index": "ivf", "ivf_train_min": 20, "ivf_cells": 0, "ivf_probe": 2}


@pytest.fixture(scope="module")
def pair() -> GraphPair:
    return synthetic_pair(n=120, seed=2)


@pytest.fixture(scope="module")
def bundle(pair: GraphPair) -> ModelBundle:
    return untrained_bundle(pair)


def _nlist(engine: AlignmentEngine) -> int:
    return len(engine.sides[0].index.centroids)


def test_cells_follow_the_graph() -> None:
    assert not ivf_lists.outgrown(40_000, 1024, 0)  # zh_en: 1,024 cells, none more
    assert ivf_lists.outgrown(160_000, 1024, 0)  # 80K a side: 4·√n = 1,600 → 2,048 cells
    assert not ivf_lists.outgrown(160_000, 2048, 0)
    assert not ivf_lists.outgrown(10_000_000, 1024, 1024)  # a set count stays frozen


@pytest.mark.parametrize("float16", [False, True])
def test_lists_stay_fresh_across_re_trainings(tmp_path: Path, pair: GraphPair,
                                              bundle: ModelBundle, float16: bool) -> None:
    changes = _changes(pair)
    settings = engine_settings(**GROWING, rebuild_share=1.0, ivf_float16=float16)
    engine = AlignmentEngine.empty(bundle, settings)
    seen = set()
    with open_store(tmp_path / "db") as store:
        for start in range(0, len(changes), 25):
            run(store, engine, changes[start:start + 25])
            if engine.lists.ivf and not engine.pending_count:
                _assert_lists_fresh(engine)
                seen.add(_nlist(engine))
        while engine.pending_count:
            run(store, engine, [])
        with store.transaction() as tx:  # the latest quantiser is the stored one
            assert np.array_equal(tx.embeddings.quantiser(bundle.version),
                                  engine.sides[0].index.centroids)
    _assert_lists_fresh(engine)
    assert len(seen) >= 2 and max(seen) > min(seen)  # trained again, on more cells
    streamed = engine.final_alignment()
    cells = IvfCells(engine.sides[0].index.centroids, GROWING["ivf_probe"], float16)
    batch = align(ModelScorer(bundle, pair), AlignSettings(candidates=3, threshold=0.3,
                                                           evidence=0), ivf=cells)
    assert {m.left: m.right for m in batch} == {k: v[0] for k, v in streamed.items()}


def test_a_restored_engine_re_trains_as_the_live_one(tmp_path: Path, pair: GraphPair,
                                                    bundle: ModelBundle) -> None:
    changes = _changes(pair)
    settings = engine_settings(**GROWING)
    live = AlignmentEngine.empty(bundle, settings)
    half = 0
    with open_store(tmp_path / "db") as store:
        while not live.lists.ivf or _nlist(live) < 32:  # restored between two trainings
            run(store, live, changes[half:half + 20])
            half += 20
        while live.pending_count:
            run(store, live, [])
        before = _nlist(live)
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        for s in (0, 1):
            assert _cells(restored, s) == _cells(live, s)
        run(store, restored, changes[half:], batch=40)
        while restored.pending_count:
            run(store, restored, [])
    for start in range(half, len(changes), 40):
        live.process(changes[start:start + 40], [])
    while live.pending_count:
        live.process([], [])
    assert _nlist(live) > before  # the rest of the stream re-trained the quantiser
    assert np.array_equal(restored.sides[0].index.centroids, live.sides[0].index.centroids)
    for s in (0, 1):
        assert _cells(restored, s) == _cells(live, s)
    _assert_lists_fresh(restored)
    assert {k: v[0] for k, v in restored.final_alignment().items()} == \
        {k: v[0] for k, v in live.final_alignment().items()}
