"""A small batch's own second thread (``steady_threads = 2``, decision 0140): the candidate
lists' two sides searched, repaired and re-ranked at once, the shared-anchor heads beside them,
the pair head's features beside the logits — the engine one thread gives, compared on whole
engine runs list by list, head by head and event by event."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine import scoring
from stream_align.engine.anchor_heads import AnchorHeads
from stream_align.engine.candidate_lists import CandidateLists
from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.model.pair_head import PairHead

HEAD = PairHead(weights=(2.0, 1.5, 1.0, 1.0, 1.0, 0.5, 1.0, 0.5, 1.5), bias=-2.5)


def _run(tmp_path: Path, steady_threads: int) -> tuple[list[tuple], list[tuple], dict]:
    """A bulk batch of most of the stream (on one thread), then small batches (repaired
    lists): the events (less their ids and stamps), both sides' lists and heads, the final
    matches. Torch on two threads, as a service's process."""
    pair = synthetic_pair(n=120, seed=5)
    bundle = replace(untrained_bundle(pair), pair_head=HEAD)
    settings = engine_settings(steady_threads=steady_threads, bulk_threads=1, csls_k=2,
                               csls_depth=4, candidate_reserve=3, single_thread_below=100)
    engine = AlignmentEngine.empty(bundle, settings)
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=2))
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with open_store(tmp_path) as store:
            outcomes = run(store, engine, changes[:-60]) + run(store, engine, changes[-60:],
                                                                batch=6)
    finally:
        torch.set_num_threads(before)
    events = [(e.left, e.right, e.decision, e.score, e.previous_score, e.cause)
              for o in outcomes for e in o.events]
    lists = [(s, node, tuple(side.lists.get(node)), tuple(side.cands.get(node)))
             for s, side in enumerate(engine.sides) for node in range(len(side.graph.keys))]
    return events, lists, engine.final_alignment()


def test_a_small_batchs_second_thread_gives_the_engine_one_gives(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str]] = []
    scan, features, anchors = CandidateLists._scan, scoring._head_features, AnchorHeads.update

    def spy_scan(self: CandidateLists, s: int, *args: object) -> None:
        seen.append((f"scan{s}", threading.current_thread().name))
        scan(self, s, *args)

    def spy_features(*args: object) -> object:
        seen.append(("features", threading.current_thread().name))
        return features(*args)

    def spy_anchors(self: AnchorHeads, *args: object) -> object:
        seen.append(("anchors", threading.current_thread().name))
        return anchors(self, *args)

    monkeypatch.setattr(CandidateLists, "_scan", spy_scan)
    monkeypatch.setattr(AnchorHeads, "update", spy_anchors)
    monkeypatch.setattr(scoring, "_head_features", spy_features)
    monkeypatch.setattr(scoring, "BESIDE_PAIRS", 1)
    main = threading.current_thread().name
    one = _run(tmp_path / "one", steady_threads=1)
    assert {name for _, name in seen} == {main}
    seen.clear()
    two = _run(tmp_path / "two", steady_threads=2)
    assert {name.split("_")[0] for what, name in seen if what == "scan1"} == {"lists-side-1"}
    assert {name for what, name in seen if what == "scan0"} == {main}
    for beside in ("features", "anchors"):  # the bulk batch runs them on the main thread
        assert "beside" in {name.split("_")[0] for what, name in seen if what == beside}
    assert one[0] and one[1] and one[2]
    assert one == two
