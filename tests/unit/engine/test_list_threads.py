"""A steady call's candidate lists on two threads (``list_threads = 2``, decision 0140): the
two sides' searches, repairs and CSLS re-ranks at once give the engine one thread gives —
compared on whole engine runs, list by list, head by head and event by event."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from engine_fixtures import engine_settings, open_store, run, synthetic_pair, untrained_bundle

from stream_align.engine.candidate_lists import CandidateLists
from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.model.pair_head import PairHead

HEAD = PairHead(weights=(2.0, 1.5, 1.0, 1.0, 1.0, 0.5, 1.0, 0.5, 1.5), bias=-2.5)


def _run(tmp_path: Path, list_threads: int) -> tuple[list[tuple], list[tuple], dict]:
    """A bulk batch of most of the stream, then small batches (repaired, not rebuilt lists):
    the events (less their ids and stamps), both sides' lists and heads, the final matches."""
    pair = synthetic_pair(n=120, seed=5)
    bundle = replace(untrained_bundle(pair), pair_head=HEAD)
    settings = engine_settings(list_threads=list_threads, csls_k=2, csls_depth=4,
                               candidate_reserve=3)
    engine = AlignmentEngine.empty(bundle, settings)
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=2))
    with open_store(tmp_path) as store:
        outcomes = run(store, engine, changes[:-60]) + run(store, engine, changes[-60:],
                                                            batch=6)
    events = [(e.left, e.right, e.decision, e.score, e.previous_score, e.cause)
              for o in outcomes for e in o.events]
    lists = [(s, node, tuple(side.lists.get(node)), tuple(side.cands.get(node)))
             for s, side in enumerate(engine.sides) for node in range(len(side.graph.keys))]
    return events, lists, engine.final_alignment()


def test_two_list_threads_give_the_engine_one_gives(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    scanned: list[tuple[int, str]] = []
    scan = CandidateLists._scan

    def spy(self: CandidateLists, s: int, *args: object) -> None:
        scanned.append((s, threading.current_thread().name))
        scan(self, s, *args)

    monkeypatch.setattr(CandidateLists, "_scan", spy)
    one = _run(tmp_path / "one", list_threads=1)
    assert {name for _, name in scanned} == {threading.current_thread().name}
    scanned.clear()
    two = _run(tmp_path / "two", list_threads=2)
    assert {name.split("_")[0] for s, name in scanned if s == 1} == {"lists-side-1"}
    assert {name for s, name in scanned if s == 0} == {threading.current_thread().name}
    assert one[0] and one[1] and one[2]
    assert one == two
