"""What a person wants to see after a streaming run: how many alignments, how right, how fresh.

Precision and recall are measured against the dataset's gold test pairs, restricted to left
entities that have a gold test partner (train pairs arrive as labels and would be free wins).
Freshness is the time from the newest triple that caused an alignment event being produced to
the alignment event being produced (Kafka record timestamps, so clocks are the broker's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np

from stream_align.graph import GraphPair


@dataclass(frozen=True)
class StreamSummary:
    alignments: int
    test_pairs: int
    predicted_on_test: int
    correct: int
    precision: float
    recall: float
    f1: float
    freshness_ms_p50: float | None
    freshness_ms_p95: float | None
    freshness_ms_p99: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def summarise(pair: GraphPair, current: Mapping[str, str], freshness_ms: Iterable[float]
              ) -> StreamSummary:
    """``current``: left key → right key of every live MATCH (the compacted topic)."""
    gold = {pair.a.keys[i]: pair.b.keys[j] for i, j in pair.test.tolist()}
    on_test = {left: right for left, right in current.items() if left in gold}
    correct = sum(1 for left, right in on_test.items() if gold[left] == right)
    precision, recall = _ratio(correct, len(on_test)), _ratio(correct, len(gold))
    f1 = _ratio(2 * correct, len(on_test) + len(gold))
    fresh = np.asarray(list(freshness_ms), dtype=float)
    pct = (lambda q: float(np.percentile(fresh, q))) if len(fresh) else (lambda q: None)
    return StreamSummary(alignments=len(current), test_pairs=len(gold),
                         predicted_on_test=len(on_test), correct=correct, precision=precision,
                         recall=recall, f1=f1, freshness_ms_p50=pct(50), freshness_ms_p95=pct(95),
                         freshness_ms_p99=pct(99))
