"""The engine end to end on a real RocksDB: parity, restore, retractions, labels, re-delivery."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from engine_fixtures import engine_settings, open_store, run, untrained_bundle

from stream_align.engine.batch_align import align
from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.contracts import Label, LabelValue, TripleChange
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle
from stream_align.model.pair_head import PairHead
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings
from stream_align.service.engine_state import StoredState, process_into

torch.set_num_threads(1)


def _stream(tmp: Path, bundle: ModelBundle, changes: list[TripleChange], batch: int,
            **overrides: object) -> AlignmentEngine:
    engine = AlignmentEngine.empty(bundle, engine_settings(**overrides))
    with open_store(tmp) as store:
        run(store, engine, changes, batch=batch)
        while engine.pending_count:
            run(store, engine, [])
    return engine


def _same(x: dict[str, tuple[str, float]], y: dict[str, tuple[str, float]]) -> None:
    assert {k: v[0] for k, v in x.items()} == {k: v[0] for k, v in y.items()}
    assert max((abs(x[k][1] - y[k][1]) for k in x), default=0.0) < 1e-5


def _streamed_and_batch(tmp: Path, bundle: ModelBundle, pair: GraphPair
                        ) -> tuple[dict[str, tuple[str, float]], dict[str, tuple[str, float]]]:
    """The final alignment of shuffled micro-batches of 25, and the batch aligner's."""
    shuffled = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=3))
    streamed = _stream(tmp, bundle, shuffled, batch=25).final_alignment()
    batch = align(ModelScorer(bundle, pair), AlignSettings(candidates=3, threshold=0.3,
                                                           evidence=0))
    return streamed, {m.left: (m.right, m.score) for m in batch}


def test_engine_stream_orders_and_batch_agree(tmp_path: Path, pair: GraphPair,
                                             bundle: ModelBundle) -> None:
    """Shuffled micro-batches = file order = one batch = the model's batch aligner."""
    in_file = list(triple_changes(pair, ReplayOrder.FILE))
    streamed, batch = _streamed_and_batch(tmp_path / "s", bundle, pair)
    _same(streamed, _stream(tmp_path / "f", bundle, in_file, batch=40).final_alignment())
    _same(streamed, _stream(tmp_path / "b", bundle, in_file, batch=0).final_alignment())
    _same(streamed, batch)
    assert len(streamed) > len(pair.test) // 2


def test_engine_reads_names_permuted_as_the_batch_aligner_does(tmp_path: Path,
                                                               pair: GraphPair) -> None:
    """A model from before decision 0101 (names block "permuted"): streamed = batch too,
    and the vectors are not the fixed block's (the setting reaches the engine)."""
    old = untrained_bundle(pair, name_block="permuted")
    streamed, batch = _streamed_and_batch(tmp_path, old, pair)
    _same(streamed, batch)
    assert len(streamed) > len(pair.test) // 2
    assert not np.array_equal(ModelScorer(old, pair).query,
                              ModelScorer(untrained_bundle(pair), pair).query)


def test_engine_with_a_pair_head_agrees_with_batch(tmp_path: Path, pair: GraphPair,
                                                   bundle: ModelBundle) -> None:
    """With a pair head (decision 0024) the streamed decisions still equal the batch aligner's:
    its evidence lies in the receptive field the engine re-scores on."""
    bundle = replace(bundle, pair_head=PairHead(
        weights=(2.0, 1.5, 1.0, 1.0, 1.0, 0.5, 1.0, 0.5, 1.5), bias=-2.5))
    streamed, batch = _streamed_and_batch(tmp_path, bundle, pair)
    _same(streamed, batch)
    assert len(streamed) > len(pair.test) // 2


def test_engine_unnamed_threshold_agrees_with_batch(tmp_path: Path, pair: GraphPair,
                                                   bundle: ModelBundle) -> None:
    """Pairs with an unnamed entity need ``unnamed_threshold``: streamed = batch aligner, and
    the bar removes matches that the plain threshold keeps."""
    unnamed = replace(pair, a=replace(pair.a, names=[n if i % 5 else "" for i, n in
                                                     enumerate(pair.a.names)]),
                      b=replace(pair.b, names=[n if i % 4 else "" for i, n in
                                               enumerate(pair.b.names)]))
    scorer = ModelScorer(bundle, unnamed)
    plain = align(scorer, AlignSettings(candidates=3, threshold=0.3, evidence=0))
    index_a, index_b = unnamed.a.index(), unnamed.b.index()
    weak = [m.score for m in plain if not (unnamed.a.names[index_a[m.left]]
                                           and unnamed.b.names[index_b[m.right]])]
    ordered = sorted(weak)  # a bar between two scores: a bar equal to one is decided by rounding
    bar = (ordered[len(weak) // 2 - 1] + ordered[len(weak) // 2]) / 2
    batch = align(scorer, AlignSettings(candidates=3, threshold=0.3, unnamed_threshold=bar,
                                        evidence=0))
    assert 0 < len(plain) - len(batch) <= len(weak)
    shuffled = list(triple_changes(unnamed, ReplayOrder.SHUFFLE, seed=3))
    streamed = _stream(tmp_path, bundle, shuffled, batch=25, unnamed_threshold=bar)
    _same(streamed.final_alignment(), {m.left: (m.right, m.score) for m in batch})


def test_engine_unnamed_margin_agrees_with_batch(tmp_path: Path, pair: GraphPair,
                                                bundle: ModelBundle) -> None:
    """A margin over the runner-up for unnamed pairs: streamed in shuffled micro-batches =
    batch aligner, and it removes matches the plain rule makes."""
    unnamed = replace(pair, a=replace(pair.a, names=[n if i % 3 else "" for i, n in
                                                     enumerate(pair.a.names)]))
    scorer = ModelScorer(bundle, unnamed)
    plain = align(scorer, AlignSettings(candidates=3, threshold=0.3, evidence=0))
    batch = align(scorer, AlignSettings(candidates=3, threshold=0.3, unnamed_margin=0.02,
                                        evidence=0))
    assert len(batch) < len(plain)
    shuffled = list(triple_changes(unnamed, ReplayOrder.SHUFFLE, seed=4))
    streamed = _stream(tmp_path, bundle, shuffled, batch=25, unnamed_margin=0.02)
    _same(streamed.final_alignment(), {m.left: (m.right, m.score) for m in batch})


def test_engine_bulk_rebuild_equals_list_repair(tmp_path: Path, pair: GraphPair,
                                               bundle: ModelBundle) -> None:
    """Rebuilding every list from one pass (any batch, ``rebuild_share`` tiny) ends where
    repairing lists batch by batch ends."""
    shuffled = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=5))
    repaired = _stream(tmp_path / "r", bundle, shuffled, batch=30)
    rebuilt = _stream(tmp_path / "b", bundle, shuffled, batch=30, rebuild_share=1e-6)
    _same(rebuilt.final_alignment(), repaired.final_alignment())
    assert rebuilt.book.scores.keys() == repaired.book.scores.keys()


def test_engine_deferred_queue_drains_to_the_same_result(tmp_path: Path, pair: GraphPair,
                                                         bundle: ModelBundle) -> None:
    """With a tiny per-batch bound the work is queued and the drained state is the same."""
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    bounded = _stream(tmp_path / "q", bundle, changes, batch=60, max_affected_per_batch=7)
    _same(bounded.final_alignment(),
          _stream(tmp_path / "u", bundle, changes, batch=0).final_alignment())


def test_engine_restore_equals_live_state(tmp_path: Path, pair: GraphPair,
                                         bundle: ModelBundle) -> None:
    """Restore mid-stream (with queued work and a label), then finish: same as never stopping."""
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    labels = [_label(pair, 0, 1, LabelValue.MATCH)]
    settings = engine_settings(max_affected_per_batch=30)
    live = AlignmentEngine.empty(bundle, settings)
    with open_store(tmp_path / "db") as store:
        run(store, live, changes[:300], labels=labels, batch=50)
        assert live.pending_count and live.held.calls  # restored mid-drain, lists held
        with store.transaction() as tx:
            restored = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        assert restored.final_alignment().keys() == live.final_alignment().keys()
        assert restored.decider.published == live.decider.published
        assert restored.held.everywhere
        assert [sorted(live.sides[s].graph.keys[n] for n in live.pending[s]) for s in (0, 1)] == \
            [sorted(restored.sides[s].graph.keys[n] for n in restored.pending[s]) for s in (0, 1)]
        assert restored.decider.labels == live.decider.labels
        run(store, restored, changes[300:], batch=50)
        while restored.pending_count:
            run(store, restored, [])
    reference = AlignmentEngine.empty(bundle, settings)
    with open_store(tmp_path / "ref") as store:
        run(store, reference, changes, labels=labels, batch=0)
        while reference.pending_count:
            run(store, reference, [])
    _same(restored.final_alignment(), reference.final_alignment())


def test_engine_held_lists_refresh_once_the_queue_drains(tmp_path: Path, pair: GraphPair,
                                                        bundle: ModelBundle) -> None:
    """While recomputes are queued, lists and decisions wait; the draining call refreshes them
    for everything held, and ``max_held_batches`` bounds the wait under endless input: calls
    *with input* count, input-free drain calls do not (decision 0074)."""
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    head, tail = changes[:-4], changes[-4:]
    engine = AlignmentEngine.empty(bundle, engine_settings(max_affected_per_batch=8,
                                                           max_held_batches=3))
    with open_store(tmp_path / "db") as store:
        with store.transaction() as tx:
            first = process_into(tx, engine, head, [])
        assert engine.pending_count and engine.held.calls == 1
        assert not first.events and not engine.book.scores and "lists_s" not in first.stats
        for _ in range(3):  # input-free: they do not count toward the bound
            with store.transaction() as tx:
                drained = process_into(tx, engine, [], [])
            assert engine.pending_count and "lists_s" not in drained.stats
        assert engine.held.calls == 4 and engine.held.fed == 1
        for change in tail[:2]:  # endless input: the third call with input refreshes
            with store.transaction() as tx:
                last = process_into(tx, engine, [change], [])
        assert engine.pending_count and engine.held.calls == 0
        assert last.events and engine.book.scores and "lists_s" in last.stats
        # events of a refresh carry their held causing inputs' time
        assert {e.event_time for e in last.events} <= {c.event_time for c in changes}
        assert all(e.cause for e in last.events)
        run(store, engine, tail[2:])
        while engine.pending_count:
            run(store, engine, [])
        assert engine.held.calls == 0
    _same(engine.final_alignment(),
          _stream(tmp_path / "u", bundle, changes, batch=0).final_alignment())


def test_engine_small_work_refreshes_while_the_queue_drains(tmp_path: Path, pair: GraphPair,
                                                           bundle: ModelBundle) -> None:
    """Held work below a rebuild's size is refreshed in the call that computed it: after a
    load, lists and scores move while recomputes stay queued, and the drained state equals an
    unbounded run's."""
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    load = len(changes) * 7 // 10
    engine = AlignmentEngine.empty(bundle, engine_settings(max_affected_per_batch=10))
    mid_drain = []
    with open_store(tmp_path / "db") as store:
        run(store, engine, changes[:load])
        while engine.pending_count:
            run(store, engine, [])
        for start in range(load, len(changes), 5):
            (out,) = run(store, engine, changes[start:start + 5])
            if engine.pending_count:
                mid_drain.append(("lists_s" in out.stats, engine.held.calls))
        while engine.pending_count:
            run(store, engine, [])
    assert mid_drain and all(refreshed and calls == 0 for refreshed, calls in mid_drain)
    _same(engine.final_alignment(),
          _stream(tmp_path / "u", bundle, changes, batch=0).final_alignment())


def test_engine_drain_waits_while_its_queue_makes_it_rebuild_sized(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """A change that reaches most vectors (a ContEA snapshot) drained in calls each far below
    ``rebuild_share``: the work held plus the queue is rebuild-sized, so the calls hold and
    the call that empties the queue refreshes once, rebuilding every list (decision 0071);
    the drained state equals an unbounded run's."""
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    load = len(changes) // 2
    engine = AlignmentEngine.empty(bundle, engine_settings(max_affected_per_batch=10,
                                                           max_held_batches=1000))
    share = engine.settings.rebuild_share
    with open_store(tmp_path / "db") as store:
        run(store, engine, changes[:load])
        while engine.pending_count:
            run(store, engine, [])
        run(store, engine, changes[load:])
        indexed = engine.sides[0].count + engine.sides[1].count
        assert engine.held.changed < share * indexed  # the held work alone: a repair
        assert engine.held.changed + engine.pending_count >= share * indexed
        refreshed = []
        while engine.pending_count:
            (out,) = run(store, engine, [])
            refreshed.append(out.stats.get("researched"))
    assert len(refreshed) > 2 and refreshed[:-1] == [None] * (len(refreshed) - 1)
    assert refreshed[-1] == engine.sides[0].count + engine.sides[1].count  # one rebuild
    _same(engine.final_alignment(),
          _stream(tmp_path / "u", bundle, changes, batch=0).final_alignment())


def _label(pair: GraphPair, i: int, j: int, value: LabelValue) -> Label:
    return Label.new(left=pair.a.keys[i], right=pair.b.keys[j], label=value, source="test")


def test_pairs_of_queued_entities_are_owed_until_their_recompute(
        tmp_path: Path, pair: GraphPair, bundle: ModelBundle) -> None:
    """A refresh while recomputes are queued scores no pair of a queued entity (its recompute
    would score it again); such pairs are owed, the stored lists are marked not current, and
    once the queue drains nothing is owed and every score equals an unbounded run's."""
    changes = list(triple_changes(pair, ReplayOrder.FILE))
    load = len(changes) * 7 // 10
    engine = AlignmentEngine.empty(bundle, engine_settings(max_affected_per_batch=10))
    owed_seen = 0
    with open_store(tmp_path / "db") as store:
        run(store, engine, changes[:load])
        while engine.pending_count:
            run(store, engine, [])
        for start in range(load, len(changes), 5):
            before = engine.book.arrays()
            (out,) = run(store, engine, changes[start:start + 5])
            owed = engine.scores.owed
            if "lists_s" not in out.stats or not len(owed):
                continue
            owed_seen += len(owed)
            lefts, rights = owed >> 32, owed & 0xFFFFFFFF
            waiting = engine.queue.waiting()
            assert (np.isin(lefts, waiting[0]) | np.isin(rights, waiting[1])).all()
            old = dict(zip(zip(*(x.tolist() for x in before[:2]), strict=True),
                           before[2].tolist(), strict=True))
            now = engine.book.node_scores(lefts, rights)
            for u, v, score in zip(lefts.tolist(), rights.tolist(), now.tolist(), strict=True):
                assert np.isnan(score) or score == old.get((u, v), score)  # not re-scored
            with store.transaction() as tx:
                assert StoredState(tx).candidates_state() == ""
        while engine.pending_count:
            run(store, engine, [])
    assert owed_seen and not len(engine.scores.owed)
    reference = _stream(tmp_path / "u", bundle, changes, batch=0)
    got, want = engine.book.arrays(), reference.book.arrays()
    # the same pairs, by entity keys, with the same scores:
    book = {(engine.sides[0].graph.keys[u], engine.sides[1].graph.keys[v]): s
            for u, v, s in zip(*(x.tolist() for x in got), strict=True)}
    ref = {(reference.sides[0].graph.keys[u], reference.sides[1].graph.keys[v]): s
           for u, v, s in zip(*(x.tolist() for x in want), strict=True)}
    assert book.keys() == ref.keys()
    assert max(abs(book[k] - ref[k]) for k in ref) < 1e-5
    _same(engine.final_alignment(), reference.final_alignment())
