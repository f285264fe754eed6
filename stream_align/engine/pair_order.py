"""The order a bulk refresh scores its pairs in: pairs that share entities close together.

Pairs are scored in groups of consecutive pairs (``scoring.group_spans``): a group builds the
pair-head views, kept ``h1`` rows and last-layer messages of its distinct entities once, holds
at most ``scoring.GROUP_ENTITIES`` a side, and the view cache keeps ``view_cache_entries`` a side
between groups. In key order (left-major) a group is a run of lefts whose candidates lie all
over the other graph, so it reaches its bound of rights after a few thousand lefts and the next
group builds most of those rights again: the 200K-a-side load's final refresh built 2,990,628
views for 400K entities (decision 0094), the 80K one 755,029 for 160K.

The coarse IVF cell of the right's vector is no shared key: on the grown data a left's ≈ 19
pairs fall in 6 of the model's 8 coarse cells (its CSLS candidates, the lists holding it and its
shared-anchor candidates are not local there), and sorting by it saved < 1 % of the views. The
pair graph's own bandwidth order does: reverse Cuthill–McKee over the bipartite graph of the
pairs (``scipy.sparse.csgraph``, linear in the pairs) numbers the entities so that the two ends
of a pair are about one breadth-first level apart, and pairs sorted by their lower end's number
fill each group from a narrow band of entities: 44 % fewer views at 80K a side (decision 0096).

Scores are per pair, so any order gives the same bits; the order is a function of the pairs
alone (the sort of Cuthill–McKee is stable), so a run is repeatable.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import reverse_cuthill_mckee

from stream_align import setops
from stream_align.engine import packed


def for_groups(keys: np.ndarray, pairs: int, entities: int) -> np.ndarray:
    """Sorted distinct packed pairs ``keys`` in the band order where they make more than one
    scoring group — more than ``pairs`` pairs, or more than ``entities`` distinct entities a
    side — else as they are: one group builds each entity once in any order, and the order
    costs ≈ 0.2 s at DBP15K zh_en's 409K pairs."""
    lefts, rights = packed.split(keys)
    if len(keys) <= pairs and (np.count_nonzero(np.diff(lefts)) < entities
                               and len(setops.unique(rights)) <= entities):
        return keys
    return banded(keys)


def banded(keys: np.ndarray) -> np.ndarray:
    """``keys`` (packed pairs ``left << 32 | right``, sorted and distinct) in the band order
    above: by the lower Cuthill–McKee number of their two entities, then the higher. A
    transient of ≈ 30 bytes a pair beside ``keys`` and the result: the entities' positions
    and numbers as ``int32``, each column let go once read (the whole book at a bulk
    refresh, before its groups: ≈ 90 bytes a pair held at once as ``int64`` columns,
    decision 0121)."""
    keys = np.asarray(keys, dtype=np.int64)
    if not len(keys):
        return keys
    at_left, at_right, n = _positions(keys)
    half = sp.csr_matrix((np.ones(len(keys), dtype=np.int8), (at_left, at_right)), shape=(n, n))
    number = np.empty(n, dtype=np.int32)
    number[reverse_cuthill_mckee((half + half.T).tocsr(), symmetric_mode=True)] = np.arange(n)
    del half
    a, b = number[at_left], number[at_right]
    del at_left, at_right
    low = np.minimum(a, b).astype(np.int64)  # one stable sort of (lower, higher) number: ties
    low *= n  # in key order
    low += np.maximum(a, b)
    del a, b
    return keys[np.argsort(low, kind="stable")]


def _positions(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Each pair's left and right as ``int32`` positions in one numbering of the distinct
    entities (the lefts ascending, then the rights ascending), and their count. The lefts of
    sorted keys are ascending: their positions count the steps between them."""
    lefts = keys >> 32
    at_left = np.zeros(len(keys), dtype=np.int32)
    np.cumsum(lefts[1:] != lefts[:-1], out=at_left[1:])
    del lefts
    rights = keys & packed.LOW
    right_ids = setops.unique(rights)
    at_right = np.searchsorted(right_ids, rights).astype(np.int32)
    del rights
    at_right += int(at_left[-1]) + 1
    return at_left, at_right, int(at_left[-1]) + 1 + len(right_ids)
