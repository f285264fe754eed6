"""A restore computes the first batch's level-0 features, ``h1`` rows and views ahead (decision
0104): the ``h1`` rows where the state stores none (written before decision 0135)."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from engine_fixtures import engine_settings, forget_level1, open_store, run

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.recompute import encode_local
from stream_align.engine.scoring import side_view
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.pair_head import PairHead
from stream_align.service.engine_state import StoredState

torch.set_num_threads(1)
HEAD = PairHead(weights=(2.0, 1.5, 1.0, 1.0, 1.0, 0.5, 1.0, 0.5, 1.5), bias=-2.5)


def _restored(tmp: Path, pair: GraphPair, bundle: ModelBundle, rows: bool = False,
              **overrides: object) -> AlignmentEngine:
    """The pair streamed into a store in batches and drained, then restored from it; without
    ``rows`` the stored ``h1`` rows are deleted first (a state of the layout before decision
    0135)."""
    settings = engine_settings(**overrides)
    tmp = tmp / ("rows" if rows else "old")
    with open_store(tmp) as store:
        if not (tmp / "done").exists():
            engine = AlignmentEngine.empty(bundle, settings)
            run(store, engine, list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=3)), batch=50)
            while engine.pending_count:
                run(store, engine, [])
            if not rows:
                forget_level1(store, settings.graph_ids, bundle.version)
            (tmp / "done").touch()
        with store.transaction() as tx:
            return AlignmentEngine.restore(bundle, StoredState(tx), settings)


def _alive(engine: AlignmentEngine, s: int) -> list[int]:
    return sorted(engine.sides[s].graph.alive_indices())


def test_a_restore_keeps_every_h1_row_as_the_local_encode_gives_it(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """Warmed, every live node has an ``h1`` row equal to a local encode's (to float
    rounding); with the setting at 0 none is kept."""
    engine = _restored(tmp_path, pair, bundle)
    for s, side in enumerate(engine.sides):
        nodes = _alive(engine, s)
        assert not side.level1.missing(nodes)
        assert side.level0.nbytes() == 0  # the h0 rows on the way are dropped
        with torch.no_grad():
            local = encode_local(bundle, side.samples, nodes, side.features,
                                 anchors=side.anchor_ids)
        want = local.enc.h1[torch.from_numpy(local.level1)].numpy()
        got = side.level1.rows(local.globals[local.level1].tolist())[:-1].numpy()
        assert np.abs(got - want).max() < 1e-6
    cold = _restored(tmp_path, pair, bundle, restore_warm_entities=0)
    for s, side in enumerate(cold.sides):
        assert side.level1.missing(_alive(cold, s)) == _alive(cold, s)


def test_a_bounded_warm_takes_the_most_sampled_nodes(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """Past the bound, the nodes most often in other nodes' samples are warmed (ties: the
    lower node), and only they get an ``h1`` row."""
    engine = _restored(tmp_path, pair, bundle, restore_warm_entities=5)
    for s, side in enumerate(engine.sides):
        nodes = np.array(_alive(engine, s), dtype=np.int64)
        nbr, _ = side.samples.slot_table(nodes)
        counts = np.bincount(nbr[nbr >= 0], minlength=int(nodes.max()) + 1)[nodes]
        want = sorted(nodes[np.lexsort((nodes, -counts))][:5].tolist())
        kept = sorted(set(nodes.tolist()) - set(side.level1.missing(nodes.tolist())))
        assert kept == want


def test_warmed_and_cold_restores_score_the_next_batch_alike(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """The next batch after a warmed restore scores its pairs as after a cold one (the ``h1``
    rows differ at most in float rounding) and decides the same matches."""
    more = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=5))[:40]
    out = []
    for warm in (0, 65_536):
        engine = _restored(tmp_path, pair, bundle, restore_warm_entities=warm)
        engine.process(more, [])
        out.append((dict(engine.book.scores), dict(engine.decider.matches)))
    (cold, cold_matches), (warm, warm_matches) = out
    assert cold.keys() == warm.keys() and cold_matches.keys() == warm_matches.keys()
    assert max(abs(cold[k] - warm[k]) for k in cold) < 1e-5


def test_a_restore_builds_the_views_a_cold_one_builds_later(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """Warmed views are the bytes a cold restore's cache builds on first use; past the
    cache's capacity the nodes most listed by the other side are kept."""
    bundle = replace(bundle, pair_head=HEAD)
    warm = _restored(tmp_path, pair, bundle, rows=True)
    cold = _restored(tmp_path, pair, bundle, rows=True, restore_warm_entities=0)
    for s in (0, 1):
        nodes = np.array(_alive(warm, s), dtype=np.int64)
        assert warm.sides[s].views.built == len(nodes) and cold.sides[s].views.built == 0
        got = warm.sides[s].views.view(nodes, _no_build)
        want = cold.sides[s].views.view(nodes, partial(side_view, bundle, cold.sides[s]))
        for a, b in zip([*got.blocks, got.words, got.numbers],
                        [*want.blocks, want.words, want.numbers], strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape
            for x, y in ((a.indptr, b.indptr), (a.indices, b.indices), (a.data, b.data)):
                assert x.tobytes() == y.tobytes()
    small = _restored(tmp_path, pair, bundle, rows=True, view_cache_entries=4)
    for s in (0, 1):
        nodes = np.array(_alive(small, s), dtype=np.int64)
        at, _ = small.sides[1 - s].listed_by.of(nodes)
        listers = np.bincount(at, minlength=len(nodes))
        want = sorted(nodes[np.lexsort((nodes, -listers))][:4].tolist())
        assert small.sides[s].views.built == 4
        small.sides[s].views.view(np.array(want, dtype=np.int64), _no_build)


def _no_build(nodes: list[int]) -> None:
    raise AssertionError(f"views of {nodes} were not kept")
