"""Whether a self-training round made validation worse (decisions 0016, 0056, 0117).

The guard compares, on the same validation pairs, which ones the retrieval vector ranks right
before and after a round. ``strict`` drops a round whose Hits@1 is any lower: on the adding
rounds (names shown) a kept pair is never checked again, so a round's errors compound, and
on product tables the guard caught a fall of 0.60 → 0.52 (decision 0016) — a fall the sign
test catches too (11 pairs lost, none gained).

``sign-test`` drops a round only when its losses outweigh its gains beyond what chance moves
on these pairs: McNemar's exact test, one-sided. Only the pairs whose outcome changed carry
information; under "the round neither helps nor hurts" each of them is a loss or a gain with
probability ½, so with ``l`` losses of ``n`` changed pairs the round is dropped when
``P(Binomial(n, ½) ≥ l) < alpha``. DBP15K zh_en has 450 validation pairs (one is 0.0022),
and the names-hidden default's third round was dropped for one pair — a round whose pairs
the pair head's validation ranking (what the benchmark ranks by) rated better (decision 0056).
Where rounds re-choose every pseudo pair (decision 0052) the next round checks a kept
round's pairs again, so a round inside the noise costs little and is kept. With names the
strict guard dropped DBP15K zh_en's second round on one net pair at every seed measured, a
round worth test Hits@1 and F1 there: ``sign-test`` is the default on both tracks (decision
0117).
"""

from __future__ import annotations

from math import comb
from typing import Literal

import numpy as np

Guard = Literal["strict", "sign-test"]
#: One-sided level of the sign test: the conventional 5 %.
ALPHA = 0.05


def losses_beyond_chance(losses: int, gains: int, alpha: float = ALPHA) -> bool:
    """McNemar's exact one-sided test: is ``P(Binomial(losses + gains, ½) ≥ losses) < alpha``?"""
    n = losses + gains
    tail = sum(comb(n, k) for k in range(losses, n + 1)) / 2 ** n
    return tail < alpha


def changed(before: np.ndarray, after: np.ndarray) -> tuple[int, int]:
    """Validation pairs a round lost (right before, wrong after) and gained."""
    return int((before & ~after).sum()), int((after & ~before).sum())


def round_is_worse(before: np.ndarray, after: np.ndarray, guard: Guard) -> bool:
    """``before``/``after``: per validation pair, whether it was ranked right."""
    if guard == "strict":
        return float(after.mean() if len(after) else 0.0) < float(
            before.mean() if len(before) else 0.0)
    return losses_beyond_chance(*changed(before, after))
