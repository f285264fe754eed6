"""What the benchmark harness needs from any alignment method: a baseline or the trained model.

Both the ranking metrics (each source ranks every test target) and the paper's pair protocol
(positives plus sampled negatives) are computed from these two calls, so every method is
measured by the same code.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from stream_align.graph import GraphPair


class PairScorer(Protocol):
    """An alignment method seen from the evaluation side; higher scores mean "more alike"."""

    name: str

    def similarity(self, pair: GraphPair, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """``float32 (len(sources), len(targets))``: graph-A ``sources`` × graph-B ``targets``."""
        ...

    def score_pairs(self, pair: GraphPair, pairs: np.ndarray) -> np.ndarray:
        """``float32 (n,)`` scores of the ``(a, b)`` index pairs ``pairs`` (``int64 (n, 2)``)."""
        ...
