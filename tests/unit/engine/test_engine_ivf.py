"""IVF candidate lists (decision 0012): streamed lists equal a fresh IVF search on the same
cells after every batch, the cells in use are stored and restored, and the exact path is
unchanged; with ``ivf_cells`` 0 the cells follow the graphs (decision 0068): the next rung of
the model's quantiser ladder (decision 0080) at each 4× growth, every list rebuilt on the new
cells, and an engine restored before a move moves as the one that wrote the store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.csls import hub_scores, rerank
from stream_align.engine.batch_align import IvfCells, align
from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import TripleChange
from stream_align.graph import GraphPair
from stream_align.index import IvfVectorIndex, auto_cells, ladder, rung
from stream_align.index.ladder import FINE_FROM, VECTORS_A_CELL, wanted
from stream_align.model.bundle import ModelBundle
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings
from stream_align.service.engine_state import StoredState, process_into

torch.set_num_threads(1)
IVF = {"candidate_index": "ivf", "ivf_train_min": 80, "ivf_cells": 8, "ivf_probe": 2}


@pytest.fixture(scope="module")
def pair() -> GraphPair:
    return synthetic_pair(n=120, seed=2)


@pytest.fixture(scope="module")
def bundle(pair: GraphPair) -> ModelBundle:
    return untrained_bundle(pair)


def _fresh_lists(engine: AlignmentEngine, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every list as a fresh FAISS IVF search (its own probe) would give it: owners, member
    nodes (``-1``: none) and scores."""
    mine, other = engine.sides[s], engine.sides[1 - s]
    nodes = mine.indexed()
    scores, ids = other.index.search(mine.vectors(nodes.tolist()), engine.lists.depth)
    named = other.nodes_named(np.maximum(ids, 0).ravel()).reshape(ids.shape)
    return nodes, np.where(ids >= 0, named, -1), scores


def _assert_lists_fresh(engine: AlignmentEngine) -> None:
    """Candidates = the fresh lists' first ``csls_depth`` re-ranked by CSLS (a list's reserve
    beyond that depth is repaired lazily: its bound), hub scores from the fresh lists."""
    assert engine.lists.ivf
    settings = engine.settings
    fresh = [_fresh_lists(engine, s) for s in (0, 1)]
    hub = [dict(zip(nodes.tolist(), hub_scores(scores, (members >= 0).sum(axis=1),
                                               settings.csls_k).tolist(), strict=True))
           for nodes, members, scores in fresh]
    for s in (0, 1):
        side = engine.sides[s]
        assert isinstance(side.index, IvfVectorIndex)
        nodes, members, scores = fresh[s]
        members, scores = members[:, : settings.csls_depth], scores[:, : settings.csls_depth]
        hubs = np.vectorize(lambda m, h=hub[1 - s]: h.get(m, 0.0))(members)
        heads = rerank(members, scores, (members >= 0).sum(axis=1), hubs, settings.top_k)
        assert {n: list(side.cands.get(n, ())) for n in side.indexed().tolist()} == \
            {n: [m for m in row if m >= 0] for n, row in zip(nodes.tolist(), heads.tolist(),
                                                               strict=True)}


def _changes(pair: GraphPair) -> list[TripleChange]:
    return list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=4))


@pytest.mark.parametrize("float16", [False, True])
def test_streamed_ivf_lists_equal_a_fresh_ivf_search(tmp_path: Path, pair: GraphPair,
                                                    bundle: ModelBundle, float16: bool) -> None:
    changes = _changes(pair)
    # rebuild_share 1: after the training rebuild, every batch repairs lists (the scan path)
    engine = AlignmentEngine.empty(bundle, engine_settings(**IVF, rebuild_share=1.0,
                                                           ivf_float16=float16))
    probed_fewer = False
    with open_store(tmp_path / "db") as store:
        for start in range(0, len(changes), 25):
            run(store, engine, changes[start:start + 25])
            if engine.lists.ivf and not engine.pending_count:
                _assert_lists_fresh(engine)
                cells = engine.sides[0].probers.cells(int(engine.sides[0].indexed()[0]))
                probed_fewer = len(cells) == 2
        while engine.pending_count:
            run(store, engine, [])
    _assert_lists_fresh(engine)
    assert probed_fewer  # lists searched 2 of 8 cells, not the whole graph
    streamed = engine.final_alignment()
    assert len(streamed) > len(pair.test) // 3
    # the batch aligner on the same cells (`stream-align align`'s function): the same result
    cells = IvfCells(engine.sides[0].index.centroids, IVF["ivf_probe"], float16)
    batch = align(ModelScorer(bundle, pair), AlignSettings(candidates=3, threshold=0.3,
                                                           evidence=0), ivf=cells)
    assert {m.left: m.right for m in batch} == {k: v[0] for k, v in streamed.items()}
    # half-float codes: the engine's pair scores read the decoded vectors, the batch its own
    gap = max(abs(m.score - streamed[m.left][1]) for m in batch)
    print(f"largest score difference, float16={float16}: {gap:.2e}")
    assert gap < (1e-3 if float16 else 1e-5)


def test_quantiser_is_stored_and_restored(tmp_path: Path, pair: GraphPair,
                                          bundle: ModelBundle) -> None:
    changes = _changes(pair)
    settings = engine_settings(**IVF)
    live = AlignmentEngine.empty(bundle, settings)
    with open_store(tmp_path / "db") as store:
        run(store, live, changes[: len(changes) // 2], batch=40)
        while live.pending_count:
            run(store, live, [])
        centroids = live.sides[0].index.centroids
        with store.transaction() as tx:
            assert np.array_equal(tx.embeddings.quantiser(bundle.version), centroids)
            restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        assert np.array_equal(restored.sides[1].index.centroids, centroids)
        assert restored.final_alignment().keys() == live.final_alignment().keys()
        for s in (0, 1):
            assert restored.sides[s].lists.keys() == live.sides[s].lists.keys()
        run(store, restored, changes[len(changes) // 2:], batch=40)
        while restored.pending_count:
            run(store, restored, [])
    rest = changes[len(changes) // 2:]  # the live engine goes on alone: the store is restored's
    for start in range(0, len(rest), 40):
        live.process(rest[start:start + 40], [])
    while live.pending_count:
        live.process([], [])
    _assert_lists_fresh(restored)
    assert {k: v[0] for k, v in restored.final_alignment().items()} == \
        {k: v[0] for k, v in live.final_alignment().items()}


def test_flat_mode_never_trains(tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    engine = AlignmentEngine.empty(bundle, engine_settings(ivf_train_min=1))
    with open_store(tmp_path / "db") as store:
        run(store, engine, _changes(pair))
        with store.transaction() as tx:
            assert tx.embeddings.quantiser(bundle.version) is None
    assert not engine.lists.ivf


def test_a_restore_that_reads_the_lists_registers_their_probes(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """Read lists (decision 0033) need their probed cells: a later changed vector is scanned
    only against the lists probing its cell, so a few changes after the restore keep every
    list fresh."""
    changes = _changes(pair)
    settings = engine_settings(**IVF)
    live = AlignmentEngine.empty(bundle, settings)
    with open_store(tmp_path / "db") as store:
        run(store, live, changes[:-20], batch=80)
        while live.pending_count:
            run(store, live, [])
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        for s in (0, 1):  # node ints are private to a process: compare by key
            was, now = live.sides[s], restored.sides[s]
            assert was.probers is not None and now.probers is not None
            assert all(np.array_equal(np.sort(was.probers.cells(n)),
                                      np.sort(now.probers.cells(now.graph.index[key])))
                       for n, key in enumerate(was.graph.keys) if was.has_vector(n))
            # the restored index holds the same decoded vectors, to the bit (0044)
            nodes = was.indexed()
            same = [now.graph.index[was.graph.keys[n]] for n in nodes.tolist()]
            assert np.array_equal(was.vectors(nodes.tolist()), now.vectors(same))
        for change in changes[-20:]:
            run(store, restored, [change])
        while restored.pending_count:
            run(store, restored, [])
    _assert_lists_fresh(restored)


def test_lists_set_while_the_other_graph_is_empty_still_probe_their_cells(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """The quantiser can be trained while one graph has no vector yet (the queue recomputes
    graph A first, so a large load trains on A alone). A's lists are then empty, but they probe
    cells all the same: the other graph's vectors arriving later must enter them. Before the
    fix they never did (A's lists stayed empty for good), and a restore, which registers every
    list's cells, did the missed work in its first batch — at 200K a side 389,475 re-ranked
    lists and 1.7M re-scored pairs for 77 records (decision 0044)."""
    changes = _changes(pair)
    left = [c for c in changes if c.graph == "A"]
    right = [c for c in changes if c.graph == "B"]
    # rebuild_share 1: after the training rebuild, B's vectors are scanned into A's lists (as
    # at scale, where one batch recomputes far less than rebuild_share of the graphs)
    settings = engine_settings(**IVF, rebuild_share=1.0)
    live = AlignmentEngine.empty(bundle, settings)
    with open_store(tmp_path / "db") as store:
        run(store, live, left)  # graph B has no vector when the quantiser is trained
        while live.pending_count:
            run(store, live, [])
        assert live.lists.ivf and not live.sides[1].count
        run(store, live, right[:-10], batch=60)
        while live.pending_count:
            run(store, live, [])
        _assert_lists_fresh(live)
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
    keys = ("recomputed", "researched", "csls_reranked", "pairs_scored")
    work = [{k: engine.process(right[-10:], []).stats[k] for k in keys}
            for engine in (live, restored)]
    assert work[0] == work[1]
    _assert_lists_fresh(live)


def _no_search(*_: object) -> None:
    raise AssertionError("a restore from rows that carry their cells must not search cells")


def _cells(engine: AlignmentEngine, s: int) -> dict[str, tuple[int, list[int]]]:
    """Each indexed entity's own IVF cell and its list's probed cells, by key."""
    side = engine.sides[s]
    assert isinstance(side.index, IvfVectorIndex) and side.probers is not None
    nodes = side.indexed()
    own = side.index.cells_of(side.faiss_ids(nodes)).tolist()
    return {side.graph.keys[n]: (c, sorted(side.probers.cells(n).tolist()))
            for n, c in zip(nodes.tolist(), own, strict=True)}


@pytest.mark.parametrize("float16", [False, True])
def test_a_restore_places_vectors_and_probes_from_the_stored_cells(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle, float16: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """List rows carry their owner's own cell and probed cells (decision 0067): a restore
    assigns and probes nothing (``n · nlist`` products at 1M a side) and holds the cells,
    vectors and lists of the engine that wrote them; its next delta writes no list row."""
    settings = engine_settings(**IVF, ivf_float16=float16)
    live = AlignmentEngine.empty(bundle, settings)
    changes = _changes(pair)
    with open_store(tmp_path / "db") as store:
        run(store, live, changes[:-30], batch=80)
        for change in changes[-30:]:  # small batches: cells moved without a rebuild
            run(store, live, [change])
        while live.pending_count:
            run(store, live, [])
        with monkeypatch.context() as patch:
            patch.setattr(IvfVectorIndex, "probe", _no_search)
            patch.setattr(IvfVectorIndex, "assign", _no_search)
            with store.transaction() as tx:
                restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        for s in (0, 1):
            assert _cells(restored, s) == _cells(live, s)
            was, now = live.sides[s], restored.sides[s]
            nodes = was.indexed()
            same = [now.graph.index[was.graph.keys[n]] for n in nodes.tolist()]
            assert np.array_equal(was.vectors(nodes.tolist()), now.vectors(same))
        with store.transaction() as tx:
            delta = process_into(tx, restored, [], []).delta
        assert not delta.lists


def test_cells_missing_from_the_rows_are_computed_and_stored_again(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """A list row without cells (written before they were stored, or its list empty) costs
    its owner a probe and an assignment on restore, and the next delta stores them."""
    settings = engine_settings(**IVF)
    live = AlignmentEngine.empty(bundle, settings)
    with open_store(tmp_path / "db") as store:
        run(store, live, _changes(pair), batch=80)
        while live.pending_count:
            run(store, live, [])
        key = live.sides[0].graph.keys[int(live.sides[0].indexed()[3])]
        with store.transaction() as tx:  # the row again, without its cells
            block = tx.candidates.list_block("A")
            i = block.keys.index(key)
            lo = int(block.lengths[:i].sum())
            hi = lo + int(block.lengths[i])
            tx.candidates.put_lists("A", [key], block.bounds[i:i + 1],
                                    block.ids[None, lo:hi], block.scores[None, lo:hi])
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        assert _cells(restored, 0) == _cells(live, 0)
        with store.transaction() as tx:
            delta = process_into(tx, restored, [], []).delta
        assert delta.lists["A"].whole().keys == [key]
        with store.transaction() as tx:
            block = tx.candidates.list_block("A")
            assert (block.cells[block.keys.index(key)] >= 0).all()


GROWING = {"candidate_index": "ivf", "ivf_train_min": 20, "ivf_cells": 0, "ivf_probe": 2}


def _nlist(engine: AlignmentEngine) -> int:
    return len(engine.sides[0].index.centroids)


def test_cells_follow_the_graph() -> None:
    """The model's rung nearest ``4 √n`` below it (decision 0080; the rule of 0068), and from
    ``FINE_FROM`` indexed vectors at most ``VECTORS_A_CELL`` a cell (decision 0137)."""
    ladder = {cells: np.zeros((cells, 4), np.float32) for cells in (512, 1024, 2048, 4096,
                                                                     8192)}
    assert rung(ladder, 38_960, 0) == 1024  # zh_en: 1,024 cells, none more
    assert rung(ladder, 80_000, 0) == 1024  # 40K a side: 4·√n = 1,131 → 1,024 cells
    assert rung(ladder, 160_000, 0) == 2048  # 80K a side: 4·√n = 1,600 → 2,048 cells
    assert rung(ladder, 216_806, 0) == 2048  # ContEA ZH-EN's every entity: 4·√n alone
    assert rung(ladder, FINE_FROM - 1, 0) == 2048
    assert rung(ladder, FINE_FROM, 0) == 8192  # 262,144 / 50 = 5,243 → 8,192 cells
    assert rung(ladder, 400_000, 0) == 8192  # 200K a side: 24.4 vectors a cell
    assert rung(ladder, 2_000_000, 0) == 8192  # 1M a side; beyond the ladder its top rung
    del ladder[8192]
    assert rung(ladder, 400_000, 0) == 4096  # the largest rung not above the rule's
    assert rung(ladder, 100, 0) == 512  # below the ladder its bottom rung
    assert rung(ladder, 10_000_000, 1024) == 1024  # a set count stays


def test_the_fine_rule_keeps_at_most_its_vectors_a_cell() -> None:
    """From ``FINE_FROM`` the wanted count is the smallest power of two giving at most
    ``VECTORS_A_CELL`` vectors a cell, never fewer cells than ``4 √n``; below, ``4 √n``."""
    for n in (FINE_FROM, 300_000, 409_600, 409_601, 2_000_000, 10**8):
        cells = wanted(n)
        assert n / cells <= VECTORS_A_CELL < 2 * n / cells  # the smallest power of two
        assert cells >= auto_cells(n) and cells & (cells - 1) == 0
    assert [wanted(n) for n in (10, 38_960, 80_000, FINE_FROM - 1)] == [
        auto_cells(n) for n in (10, 38_960, 80_000, FINE_FROM - 1)]


@pytest.mark.parametrize(("float16", "fine"), [(False, False), (True, False), (True, True)])
def test_lists_stay_fresh_across_re_trainings(tmp_path: Path, pair: GraphPair,
                                              bundle: ModelBundle, float16: bool, fine: bool,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Fresh lists after every batch across rung moves, and the streamed decisions equal the
    batch aligner's on the final cells; ``fine``: the rule of ``VECTORS_A_CELL`` from a small
    ``FINE_FROM`` (decision 0137), which moves to 64 cells at 65 indexed vectors where
    ``4 √n`` waits for 128."""
    if fine:
        monkeypatch.setattr(ladder, "FINE_FROM", 60)
        monkeypatch.setattr(ladder, "VECTORS_A_CELL", 2)
    changes = _changes(pair)
    settings = engine_settings(**GROWING, rebuild_share=1.0, ivf_float16=float16)
    engine = AlignmentEngine.empty(bundle, settings)
    seen, early = set(), False
    with open_store(tmp_path / "db") as store:
        for start in range(0, len(changes), 25):
            run(store, engine, changes[start:start + 25])
            if engine.lists.ivf and not engine.pending_count:
                _assert_lists_fresh(engine)
                seen.add(_nlist(engine))
                early |= _nlist(engine) == 64 and \
                    engine.sides[0].count + engine.sides[1].count < 128
        while engine.pending_count:
            run(store, engine, [])
        with store.transaction() as tx:  # the latest quantiser is the stored one
            assert np.array_equal(tx.embeddings.quantiser(bundle.version),
                                  engine.sides[0].index.centroids)
    _assert_lists_fresh(engine)
    assert len(seen) >= 2 and max(seen) > min(seen)  # trained again, on more cells
    assert early == fine
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
