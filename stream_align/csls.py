"""CSLS (cross-domain similarity local scaling) over retrieval lists: the hubness correction.

A *hub* is an entity close to many entities of the other graph; plain inner products put it in
many top-k lists, where it crowds out the true partners of the entities around it. CSLS (Conneau
et al., 2018) scores a pair by ``2 s(x, y) − r(x) − r(y)``, ``r`` an entity's *hub score*: the
mean of its ``k`` best retrieval scores in the other graph. For one entity's list ``r(x)`` is a
constant, so the list ranks its members by ``2 s(x, y) − r(y)``.

Here CSLS re-ranks each entity's retrieval list (its best ``R = top_k + reserve`` entities by
plain score, which the engine keeps anyway) and the first ``top_k`` of that order are its
candidates. Both inputs of the re-rank are held by the lists themselves: the plain scores of
the list's members, and each member's hub score — the mean of the first ``k`` scores of the
member's *own* list. So keeping candidates current costs no search: a member's hub score moves
only when the head of its own list moves, and then only the lists that hold it are re-ranked
(decision 0036). The batch aligner, the benchmark's scorer and the engine call these two
functions on the same lists, so their candidates are the same.
"""

from __future__ import annotations

import numpy as np

ROUNDING = 1e-12
"""A relative margin (to the CSLS scores' size) far above float64's rounding of them (≈ 1e-16):
what :func:`rerank_slack` leaves out of each row's slack."""


def hub_scores(scores: np.ndarray, lengths: np.ndarray, k: int) -> np.ndarray:
    """``float64 (n,)``: the mean of each best-first row's first ``min(k, length)`` scores (0 for
    an empty row). Summed left to right in float64, so every caller gets the same bits."""
    n = len(lengths)
    if not n or k <= 0:
        return np.zeros(n)
    width = min(k, scores.shape[1])
    taken = np.minimum(np.asarray(lengths, dtype=np.int64), width)
    total = np.zeros(n)
    for j in range(width):
        total += np.where(j < taken, scores[:, j].astype(np.float64), 0.0)
    return np.divide(total, taken, out=np.zeros(n), where=taken > 0)


def rerank(members: np.ndarray, scores: np.ndarray, lengths: np.ndarray, hubs: np.ndarray,
           top_k: int) -> np.ndarray:
    """``int64 (n, top_k)``: each row's first ``top_k`` members by ``2 s − r(member)`` (``-1``
    past the row's length). ``hubs[i, j]`` is the hub score of ``members[i, j]``; equal CSLS
    scores keep the rows' plain order (best first), so the result is a function of the rows."""
    return rerank_slack(members, scores, lengths, hubs, top_k)[0]


def rerank_slack(members: np.ndarray, scores: np.ndarray, lengths: np.ndarray,
                 hubs: np.ndarray, top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`rerank`'s rows, and each row's *slack* (``float64 (n,)``): the least gap between
    consecutive CSLS scores among its first ``top_k + 1`` in CSLS order, less a rounding
    margin (``inf`` without two live entries there; ``0`` where two tie). While the members'
    hub scores move by less than half of it in all, no entry can pass another across the
    first ``top_k`` places, so the row's heads stay what they are (``engine.csls_heads``,
    decision 0076). The margin, ``ROUNDING · (1 + the row's largest |CSLS score|)``, covers
    the rounding of the scores now and after the moves (``2**-53`` of their size each) and of
    the gaps."""
    n, width = members.shape
    top_k = min(top_k, width)
    if not n or not top_k:
        return np.full((n, top_k), -1, dtype=np.int64), np.full(n, np.inf)
    live = np.arange(width)[None, :] < np.asarray(lengths)[:, None]
    corrected = np.where(live, 2.0 * scores.astype(np.float64) - hubs, -np.inf)
    order = np.argsort(-corrected, axis=1, kind="stable")
    ranked = np.take_along_axis(corrected, order[:, :top_k + 1], axis=1)
    with np.errstate(invalid="ignore"):  # -inf - -inf: two empty slots, no gap
        gaps = ranked[:, :-1] - ranked[:, 1:]
    size = np.where(live, np.abs(corrected), 0.0).max(axis=1)
    slack = np.where(np.isnan(gaps), np.inf, gaps).min(axis=1, initial=np.inf)
    slack = np.maximum(slack - ROUNDING * (1.0 + size), 0.0)
    order = order[:, :top_k]
    out = np.take_along_axis(np.asarray(members, dtype=np.int64), order, axis=1)
    out[~np.take_along_axis(live, order, axis=1)] = -1
    return out, slack
