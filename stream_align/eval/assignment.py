"""One-to-one assignment of test sources to test targets from a similarity matrix.

The service's decisions are one-to-one, so the benchmark also reports Hits@1 after a matching.
Three ways, each returning ``match[row] = column`` (``-1`` when a row stays unmatched, which only
happens when there are more rows than columns):

- ``hungarian``: maximum-weight matching (``scipy.optimize.linear_sum_assignment``). Exact,
  cubic in time, and it works on a float64 copy of the matrix: a benchmark tool, not the
  service's rule.
- ``mutual_best``: greedy, what the service does online — take every pair that is each other's
  best among what is left, remove them, repeat.
- ``sinkhorn``: log-domain Sinkhorn normalisation (fixed iterations) towards a doubly stochastic
  plan, then ``mutual_best`` on the plan so the result is a true matching.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

CHUNK = 1024


def hungarian(sim: np.ndarray) -> np.ndarray:
    """Maximum total similarity one-to-one matching."""
    rows, cols = linear_sum_assignment(sim, maximize=True)
    return _as_match(sim.shape[0], rows, cols)


def mutual_best(sim: np.ndarray) -> np.ndarray:
    """Greedy mutual-best matching, iterated on what is left until rows or columns run out.

    Ties are broken by one strict order shared by rows and columns: among equal scores, the
    entry with the smallest diagonal offset ``(j − i) mod max(n, m)`` wins. Because rows and
    columns agree, the largest remaining entry is always mutual (every round matches at least
    one pair), and a constant block matches along its diagonal in a single round. Plain
    first-index tie-breaking would match one pair per round there: hours on 10,500².
    """
    if np.isnan(sim).any():
        raise ValueError("similarity contains NaN: no order to match by")
    match = np.full(sim.shape[0], -1, dtype=np.int64)
    rows, cols = np.arange(sim.shape[0]), np.arange(sim.shape[1])
    while len(rows) and len(cols):
        full = len(rows) == sim.shape[0] and len(cols) == sim.shape[1]
        sub = sim if full else sim[np.ix_(rows, cols)]
        best_col = _best_by_row(sub, sign=1)
        best_row = _best_by_row(sub.T, sign=-1)
        mutual = best_row[best_col] == np.arange(len(rows))
        match[rows[mutual]] = cols[best_col[mutual]]
        taken = np.zeros(len(cols), dtype=bool)
        taken[best_col[mutual]] = True
        rows, cols = rows[~mutual], cols[~taken]
    return match


def _best_by_row(sim: np.ndarray, sign: int) -> np.ndarray:
    """Per row ``r``, the column ``c`` of the row maximum with the smallest tie key
    ``sign · (c − r) mod max(shape)`` (``sign=-1`` on a transposed matrix gives the same key as
    ``+1`` on the original). Row chunks bound the temporaries."""
    out = np.empty(sim.shape[0], dtype=np.int64)
    modulus = max(sim.shape)
    cols = np.arange(sim.shape[1])
    for start in range(0, sim.shape[0], CHUNK):
        block = sim[start:start + CHUNK]
        own = np.arange(start, start + len(block))[:, None]
        is_max = block == block.max(axis=1, keepdims=True)
        key = np.where(is_max, (sign * (cols - own)) % modulus, modulus)
        out[start:start + len(block)] = key.argmin(axis=1)
    return out


def sinkhorn_plan(sim: np.ndarray, iterations: int = 10, temperature: float = 0.5) -> np.ndarray:
    """Log of the Sinkhorn-normalised plan ``exp(z / τ)`` with ``z`` the z-scored similarity.

    Z-scoring makes ``temperature`` scale-free across methods (cosines, logits, distances).
    Each iteration makes rows then columns sum to one, via potentials ``f`` and ``g`` so the
    matrix is never rescaled in place; memory is one float32 copy plus a chunk.
    """
    std = float(sim.std()) or 1.0
    logits = ((sim - sim.mean()) / (std * temperature)).astype(np.float32)
    f = np.zeros(logits.shape[0], dtype=np.float32)
    g = np.zeros(logits.shape[1], dtype=np.float32)
    for _ in range(iterations):
        f = -_lse_rows(logits, g)
        g = -_lse_cols(logits, f)
    logits += f[:, None]
    logits += g[None, :]
    return logits


def _lse_rows(logits: np.ndarray, g: np.ndarray) -> np.ndarray:
    out = np.empty(logits.shape[0], dtype=np.float32)
    for start in range(0, logits.shape[0], CHUNK):
        out[start:start + CHUNK] = logsumexp(logits[start:start + CHUNK] + g, axis=1)
    return out


def _lse_cols(logits: np.ndarray, f: np.ndarray) -> np.ndarray:
    out = np.empty(logits.shape[1], dtype=np.float32)
    for start in range(0, logits.shape[1], CHUNK):
        out[start:start + CHUNK] = logsumexp(logits[:, start:start + CHUNK] + f[:, None], axis=0)
    return out


def sinkhorn(sim: np.ndarray) -> np.ndarray:
    """Sinkhorn normalisation, then a mutual-best matching on the plan."""
    return mutual_best(sinkhorn_plan(sim))


def _as_match(n_rows: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    match = np.full(n_rows, -1, dtype=np.int64)
    match[rows] = cols
    return match


ASSIGNMENTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "hungarian": hungarian,
    "mutual_best": mutual_best,
    "sinkhorn": sinkhorn,
}


def assign(sim: np.ndarray, method: str) -> np.ndarray:
    """Run the named assignment (one of :data:`ASSIGNMENTS`)."""
    return ASSIGNMENTS[method](sim)
