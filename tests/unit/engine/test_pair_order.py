"""The band order of a bulk refresh's pairs (``pair_order``): a permutation, repeatable, and
the entities of each window of pairs fewer than in key order on a graph with a band."""

import numpy as np

from stream_align.engine import packed, pair_order


def _distinct_per_window(keys: np.ndarray, window: int) -> int:
    lefts, rights = packed.split(keys)
    return sum(len(np.unique(lefts[i:i + window])) + len(np.unique(rights[i:i + window]))
               for i in range(0, len(keys), window))


def test_banded_is_a_permutation_and_repeatable() -> None:
    rng = np.random.default_rng(3)
    keys = np.unique(packed.join(rng.integers(0, 500, 4000), rng.integers(0, 700, 4000)))
    out = pair_order.banded(keys)
    assert np.array_equal(np.sort(out), keys)
    assert np.array_equal(out, pair_order.banded(keys))


def test_banded_groups_pairs_that_share_entities() -> None:
    # 40 clusters of 25 lefts and 25 rights, pairs within a cluster only, the ids shuffled so
    # that key order mixes every cluster: the band order puts each cluster's pairs together
    rng = np.random.default_rng(5)
    lefts, rights = rng.permutation(1000), rng.permutation(1000)
    pairs = []
    for c in range(40):
        a, b = lefts[25 * c:25 * c + 25], rights[25 * c:25 * c + 25]
        pairs.append(packed.join(rng.choice(a, 200), rng.choice(b, 200)))
    keys = np.unique(np.concatenate(pairs))
    window = len(keys) // 8
    in_key_order = _distinct_per_window(keys, window)
    banded = _distinct_per_window(pair_order.banded(keys), window)
    assert banded < in_key_order / 2  # measured 2,080 against 5,645
    assert banded <= 2000 + 2 * 50 * 9  # each entity in one window, but the clusters cut


def test_banded_of_nothing() -> None:
    assert len(pair_order.banded(np.zeros(0, dtype=np.int64))) == 0


def test_one_group_keeps_its_order() -> None:
    keys = np.unique(packed.join(np.arange(100) % 7, np.arange(100) % 11))
    assert pair_order.for_groups(keys, 100, 11) is keys  # 7 lefts, 11 rights: one group
    assert not np.array_equal(pair_order.for_groups(keys, 100, 10), keys)
    assert np.array_equal(np.sort(pair_order.for_groups(keys, len(keys) - 1, 100)), keys)


def _banded_int64(keys: np.ndarray) -> np.ndarray:
    """The band order as computed before decision 0121: every column ``int64``, held."""
    lefts, rights = packed.split(keys)
    left_ids, at_left = np.unique(lefts, return_inverse=True)
    right_ids = np.unique(rights)
    at_right = np.searchsorted(right_ids, rights) + len(left_ids)
    n = len(left_ids) + len(right_ids)
    half = pair_order.sp.csr_matrix((np.ones(len(keys), dtype=np.int8), (at_left, at_right)),
                                    shape=(n, n))
    number = np.empty(n, dtype=np.int64)
    number[pair_order.reverse_cuthill_mckee((half + half.T).tocsr(), symmetric_mode=True)] = \
        np.arange(n)
    a, b = number[at_left], number[at_right]
    low = np.minimum(a, b)
    return keys[np.argsort(low * n + (a + b - low), kind="stable")]


def test_banded_is_the_int64_order() -> None:
    """The narrow columns give the order the ``int64`` ones gave, pair for pair (ties in key
    order included: a few entities of many pairs)."""
    rng = np.random.default_rng(11)
    for lefts, rights, n in ((900, 1200, 20_000), (7, 5, 30), (1, 40, 40), (3000, 2, 5000)):
        keys = np.unique(packed.join(rng.integers(0, lefts, n) * 3 + 5,
                                     rng.integers(0, rights, n) * 2 + 1))
        assert np.array_equal(pair_order.banded(keys), _banded_int64(keys)), (lefts, rights)
