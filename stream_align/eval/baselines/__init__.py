"""Learning-free baselines, each a :class:`~stream_align.eval.scorer.PairScorer` factory.

:data:`BASELINES` maps the method names the benchmark command accepts to a function fitting
that baseline on a :class:`~stream_align.eval.datasets.graph_pair.GraphPair`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from stream_align.eval.baselines.names import names_scorer
from stream_align.eval.baselines.propagation import propagation_scorer
from stream_align.eval.datasets.graph_pair import GraphPair
from stream_align.eval.scorer import PairScorer

BASELINES: dict[str, Callable[[GraphPair], PairScorer]] = {
    "names": names_scorer,
    "propagation1": partial(propagation_scorer, rounds=1),
    "propagation2": partial(propagation_scorer, rounds=2),
}
