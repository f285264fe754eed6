"""Learning-free baselines, each a :class:`~stream_align.eval.scorer.PairScorer` factory.

:data:`BASELINES` maps the method names the benchmark command accepts to a function fitting
that baseline on a :class:`~stream_align.graph.GraphPair`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from stream_align.eval.baselines.names import names_scorer
from stream_align.eval.baselines.propagation import propagation_scorer
from stream_align.eval.scorer import PairScorer
from stream_align.graph import GraphPair

#: ``λ`` per number of rounds: best validation Hits@1 on dbp15k/zh_en over {0.5, 1, 2, 4, 8}
#: (validation sources ranking validation + test targets; see docs/BENCHMARKS.md).
BASELINES: dict[str, Callable[[GraphPair], PairScorer]] = {
    "names": names_scorer,
    "propagation1": partial(propagation_scorer, rounds=1, lam=4.0),
    "propagation2": partial(propagation_scorer, rounds=2, lam=1.0),
}
