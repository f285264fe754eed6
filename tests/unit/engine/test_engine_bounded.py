"""Bounded engine caches change memory, never results."""

from __future__ import annotations

from pathlib import Path

from engine_fixtures import engine_settings, open_store, run

from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.graph import GraphPair
from stream_align.model.bundle import ModelBundle


def _streamed(tmp: Path, bundle: ModelBundle, pair: GraphPair, **overrides: object
              ) -> AlignmentEngine:
    engine = AlignmentEngine.empty(bundle, engine_settings(**overrides))
    with open_store(tmp) as store:
        run(store, engine, list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=5)), batch=20)
        while engine.pending_count:
            run(store, engine, [])
    return engine


def test_a_tiny_feature_cache_gives_the_same_scores(tmp_path: Path, pair: GraphPair,
                                                    bundle: ModelBundle) -> None:
    tiny = _streamed(tmp_path / "tiny", bundle, pair, feature_cache_entries=3)
    full = _streamed(tmp_path / "full", bundle, pair)
    assert all(len(side.features) <= 3 for side in tiny.sides)
    assert len(full.sides[0].features) > 3
    assert dict(tiny.book.scores) == dict(full.book.scores)
    assert tiny.final_alignment() == full.final_alignment()
