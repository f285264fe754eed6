"""The sample index's kept key hashes are the model's hashes of the keys, as the graph grows."""

from __future__ import annotations

import numpy as np
from engine_fixtures import engine_settings, synthetic_pair, untrained_bundle

from stream_align.engine.engine import AlignmentEngine
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.model.sampling import key_hashes


def test_kept_key_hashes_equal_the_model_hashes_while_the_graph_grows() -> None:
    pair = synthetic_pair()
    bundle = untrained_bundle(pair)
    engine = AlignmentEngine.empty(bundle, engine_settings())
    changes = list(triple_changes(pair, ReplayOrder.SHUFFLE, seed=2))
    rng = np.random.default_rng(0)
    for start in range(0, len(changes), 60):
        engine.process(changes[start:start + 60], [])
        for side in engine.sides:
            keys = side.graph.keys
            ask = rng.integers(0, len(keys), 20)
            assert np.array_equal(side.samples.key_hashes(ask),
                                  key_hashes([keys[i] for i in ask.tolist()],
                                             bundle.frozen.salt))
    assert all(side.samples.key_hashes(np.arange(len(side.graph.keys))).dtype == np.uint64
               for side in engine.sides)
