"""The pair head's features of re-scored pairs, kept per pair while their inputs stay.

A steady-tail refresh re-scores every pair of a recomputed entity (≈ 190–250 an insert on
DBP15K zh_en), because its model score moved; but of the head's eight view features
(``model.pair_head.FEATURES[1:]``) all but ``two_hop_anchors`` read only the two entities' own
names, their own samples and their sampled neighbours' names (the *own* parts of their view
rows), which changed for ≈ 15 % of those pairs (decision 0076). Their sparse cosines
(``pair_head.pair_dots``: scipy's fancy row copies and ``multiply``) were 28–39 % of the scores
stage at batches of 100 and 1,000 (decision 0087's profile). Here the seven own features of a
scored pair are kept with what they were computed from, and read back when that is unchanged.

Exact, not approximate: a pair's features are a function of

- its two view rows' own parts — tagged by the per-entity version ``ViewCache.own_versions``,
  bumped wherever those parts can change (``stages.find_affected``: a new name or sample, a
  deletion, a sampled neighbour's new name);
- and, per part, scipy's path through ``multiply``: a block of pairs whose rows all have
  sorted distinct columns takes the merge of sorted rows, else every pair of the block takes
  the general path, which sums the same products in another order (the neighbour-name sums of
  a sparse product have unsorted columns). A cached value is read back only under the same
  path (``mask``), and the pairs computed anew are computed under the path of the whole block:
  a pair of unsorted rows of that part joins them where they alone would take the other.

So every score is the one a computation of the whole block gives, bit for bit
(``test_pair_features.py``; the state digests of ``benchmarks/engine_throughput.py``).

Bounded: past ``capacity`` pairs the least recently stored or read are dropped (``49`` bytes
a pair: key, tag, tick, mask and seven float32). The recent entries sit in small sorted arrays
merged into the large ones when they reach an eighth of them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from stream_align.model.pair_head import FEATURES, PairView, features, pair_dots

PART_PAIRS = 4096
"""Pairs whose features are computed at a time within a scoring block: ``pair_dots`` copies
both sides' rows of each pair (scipy's fancy row copies, the ``multiply`` product and its
format check), so a block of 16,384 pairs held ≈ 16,384 copies of the neighbour-name sums
on the second thread at once (decision 0110). Each part of a cut takes the path its whole
block takes (:func:`block_features`), so the bits are those of one call."""
TWO_HOP = FEATURES.index("two_hop_anchors")
OWN = np.array([f for f in range(1, len(FEATURES)) if f != TWO_HOP])
"""Columns of :data:`FEATURES` read from the two entities' own view parts (kept here)."""
_MIN_RECENT = 4096


def _parts(view: PairView) -> list[sp.csr_matrix]:
    return [*view.blocks, view.words, view.numbers]


def unsorted_rows(m: sp.csr_matrix) -> np.ndarray:
    """Which rows of ``m`` do not have strictly increasing columns (scipy's canonical form,
    which ``multiply`` checks of the whole matrices it is given): one pass over the columns,
    one flag an entry (a bulk refresh's group views hold millions)."""
    indptr = np.asarray(m.indptr, dtype=np.int64)
    indices = m.indices[:indptr[-1]]
    falls = np.zeros(len(indices), dtype=bool)
    falls[1:] = indices[1:] <= indices[:-1]  # entry i does not rise from entry i - 1
    filled = np.flatnonzero(np.diff(indptr))
    falls[indptr[filled]] = False  # a row's first entry follows another row's
    out = np.zeros(m.shape[0], dtype=bool)
    if len(filled):
        out[filled] = np.logical_or.reduceat(falls, indptr[filled])
    return out


def unsorted_parts(view: PairView) -> list[np.ndarray]:
    """:func:`unsorted_rows` of each part of ``view`` (once per scoring group)."""
    return [unsorted_rows(m) for m in _parts(view)]


class FeatureCache:
    """``(a, b) → the OWN features`` of scored pairs, with the versions and paths they used."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._levels = [_Level(), _Level()]  # the large arrays, the recent ones
        self._now = 0
        self.hits = 0  # pairs read back, a running count

    def __len__(self) -> int:
        return sum(len(level.keys) for level in self._levels)

    def nbytes(self) -> int:
        return sum(level.nbytes() for level in self._levels)

    def lookup(self, keys: np.ndarray, tags: np.ndarray, mask: int
               ) -> tuple[np.ndarray, np.ndarray]:
        """Which of ``keys`` (packed pairs) hold features stored with ``tags`` and ``mask``,
        and those features (rows of the others undefined)."""
        hit = np.zeros(len(keys), dtype=bool)
        out = np.zeros((len(keys), len(OWN)), dtype=np.float32)
        self._now += 1
        for level in self._levels:  # a key is in one level at most
            if not len(level.keys):
                continue
            at, found = level.find(keys)
            good = found & (level.tags[at] == tags) & (level.mask[at] == mask)
            out[good] = level.feats[at[good]]
            level.tick[at[good]] = self._now
            hit |= good
        self.hits += int(hit.sum())
        return hit, out

    def store(self, keys: np.ndarray, tags: np.ndarray, mask: int, feats: np.ndarray) -> None:
        """Keep ``feats`` of distinct ``keys`` as computed from ``tags`` under ``mask``."""
        if not self.capacity or not len(keys):
            return
        self._now += 1
        new = np.ones(len(keys), dtype=bool)
        for level in self._levels:
            if not len(level.keys):
                continue
            at, found = level.find(keys)
            level.set(at[found], tags[found], mask, feats[found], self._now)
            new &= ~found
        self._levels[1].add(keys[new], tags[new], mask, feats[new], self._now)
        if len(self._levels[1].keys) > max(_MIN_RECENT, len(self._levels[0].keys) >> 3):
            self._levels[0].add(*self._levels[1].take())
            self._levels[0].bound(self.capacity)


class _Level:
    """Sorted distinct packed keys with a tag, a path mask, a tick and the features each."""

    def __init__(self) -> None:
        self.keys = np.zeros(0, dtype=np.int64)
        self.tags = np.zeros(0, dtype=np.int64)
        self.mask = np.zeros(0, dtype=np.uint8)
        self.tick = np.zeros(0, dtype=np.int32)
        self.feats = np.zeros((0, len(OWN)), dtype=np.float32)

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.keys, self.tags, self.mask, self.tick, self.feats))

    def find(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``keys`` (clipped) and which are held (the level is not empty)."""
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return at, self.keys[at] == keys

    def set(self, at: np.ndarray, tags: np.ndarray, mask: int, feats: np.ndarray,
            now: int) -> None:
        self.tags[at], self.mask[at], self.tick[at], self.feats[at] = tags, mask, now, feats

    def add(self, keys: np.ndarray, tags: np.ndarray, mask: int | np.ndarray,
            feats: np.ndarray, now: int | np.ndarray) -> None:
        """Insert entries of keys not held (in place of a sort of both: no order array and
        no concatenated copies beside the result, the bulk load's fill being the largest)."""
        if not len(keys):
            return
        order = np.argsort(keys, kind="stable")
        at = np.searchsorted(self.keys, keys[order])
        n = len(keys)
        self.keys = np.insert(self.keys, at, keys[order])
        self.tags = np.insert(self.tags, at, tags[order])
        self.mask = np.insert(self.mask, at, np.broadcast_to(
            np.asarray(mask, dtype=np.uint8), n)[order])
        self.tick = np.insert(self.tick, at, np.broadcast_to(
            np.asarray(now, dtype=np.int32), n)[order])
        self.feats = np.insert(self.feats, at, feats[order], axis=0)

    def take(self) -> tuple[np.ndarray, ...]:
        """Every entry, leaving the level empty."""
        out = self.keys, self.tags, self.mask, self.feats, self.tick
        self.__init__()  # type: ignore[misc]
        return out

    def bound(self, capacity: int) -> None:
        """Drop the least recently used entries past ``capacity``."""
        extra = len(self.keys) - capacity
        if extra <= 0:
            return
        keep = np.ones(len(self.keys), dtype=bool)
        keep[np.argpartition(self.tick, extra - 1)[:extra]] = False
        for name in ("keys", "tags", "mask", "tick", "feats"):
            setattr(self, name, getattr(self, name)[keep])


def block_features(views: tuple[PairView, PairView], general: list[np.ndarray],
                   at: tuple[np.ndarray, np.ndarray], score: np.ndarray, rows: np.ndarray
                   ) -> np.ndarray:
    """``pair_head.features`` of the pairs ``rows`` of a block (``at``: every pair's rows of
    ``views``; ``general[p]``: which pairs take scipy's general path in part ``p``) as one
    call over ``rows`` gives them, :data:`PART_PAIRS` pairs at a time: a cut where no pair
    takes the general path in a part that some pair of ``rows`` takes it in gets one such
    pair appended (its result dropped), so every part sums each pair's products in the
    order of one call."""
    ia, ib = at
    if len(rows) <= PART_PAIRS:
        return features(views[0], ia[rows], views[1], ib[rows], score[rows])
    flags = [f for f in (g[rows] for g in general) if f.any()]
    first = [int(rows[np.argmax(f)]) for f in flags]
    out = np.empty((len(rows), len(FEATURES)), dtype=np.float32)
    for lo in range(0, len(rows), PART_PAIRS):
        hi = min(lo + PART_PAIRS, len(rows))
        extra = [p for f, p in zip(flags, first, strict=True) if not f[lo:hi].any()]
        cut = np.concatenate([rows[lo:hi], np.asarray(sorted(set(extra)), dtype=np.int64)])
        out[lo:hi] = features(views[0], ia[cut], views[1], ib[cut], score[cut])[:hi - lo]
    return out


def whole_features(views: tuple[PairView, PairView],
                   unsorted: tuple[list[np.ndarray], list[np.ndarray]],
                   at: tuple[np.ndarray, np.ndarray], score: np.ndarray) -> np.ndarray:
    """``pair_head.features`` of every pair of a block (rows ``at`` of ``views``, whose
    :func:`unsorted_parts` are ``unsorted``): :func:`block_features` of all of them."""
    general = [ua[at[0]] | ub[at[1]] for ua, ub in zip(*unsorted, strict=True)]
    return block_features(views, general, at, score, np.arange(len(at[0])))


def cached_features(cache: FeatureCache, views: tuple[PairView, PairView],
                    unsorted: tuple[list[np.ndarray], list[np.ndarray]],
                    at: tuple[np.ndarray, np.ndarray], keys: np.ndarray, tags: np.ndarray,
                    score: np.ndarray) -> np.ndarray:
    """``pair_head.features`` of the pairs ``(at[0][p], at[1][p])`` (rows of ``views``, whose
    :func:`unsorted_parts` are ``unsorted``; packed ``keys``, own-part version ``tags``), the
    same bits, reading kept OWN features back."""
    ia, ib = at
    general = [ua[ia] | ub[ib] for ua, ub in zip(*unsorted, strict=True)]
    mask = sum(int(g.any()) << p for p, g in enumerate(general))
    hit, kept = cache.lookup(keys, tags, mask)
    miss = np.flatnonzero(~hit)
    # a part whose block takes the general path: the misses too (one pair of unsorted rows)
    extra = [int(np.flatnonzero(g)[0]) for g in general if g.any() and not g[miss].any()]
    extra = [p for p in dict.fromkeys(extra) if hit[p]]
    rows = np.concatenate([miss, np.asarray(extra, dtype=np.int64)])
    out = np.empty((len(ia), len(FEATURES)), dtype=np.float32)
    if len(rows):
        out[rows] = block_features(views, general, at, score, rows)
    if hit.any():
        done = np.flatnonzero(hit)
        out[done, 0] = score[done]
        out[np.ix_(done, OWN)] = kept[done]
        xa, xb = views[0].blocks[TWO_HOP - 1], views[1].blocks[TWO_HOP - 1]
        if general[TWO_HOP - 1].any() and not general[TWO_HOP - 1][done].any():
            first = int(np.flatnonzero(general[TWO_HOP - 1])[0])
            done_x = np.append(done, first)
            out[done, TWO_HOP] = pair_dots(xa, ia[done_x], xb, ib[done_x])[:-1]
        else:
            out[done, TWO_HOP] = pair_dots(xa, ia[done], xb, ib[done])
    cache.store(keys[miss], tags[miss], mask, out[np.ix_(miss, OWN)])
    return out


def kept_whole(cache: FeatureCache, unsorted: tuple[list[np.ndarray], list[np.ndarray]],
               at: tuple[np.ndarray, np.ndarray], keys: np.ndarray, tags: np.ndarray,
               whole: np.ndarray) -> np.ndarray:
    """``whole``: ``pair_head.features`` of a block's every pair (computed elsewhere, on the
    other thread of a bulk refresh's scoring); the cache reads and writes
    :func:`cached_features` makes for that block — the same lookups (ticks, hits) and the
    same stores — in their order. ``whole`` is what it returns too: a kept pair's features
    are the bits a computation of the whole block gives (this module's point)."""
    ia, ib = at
    general = [ua[ia] | ub[ib] for ua, ub in zip(*unsorted, strict=True)]
    mask = sum(int(g.any()) << p for p, g in enumerate(general))
    hit, _ = cache.lookup(keys, tags, mask)
    miss = np.flatnonzero(~hit)
    cache.store(keys[miss], tags[miss], mask, whole[np.ix_(miss, OWN)])
    return whole
