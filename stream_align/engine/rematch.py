"""The whole one-to-one matching at once, from sorted arrays: what the decider's local repair
reaches when most pairs changed (a bulk load's refresh, a snapshot, a restore mid-drain).

The repair (``decisions``) resolves blocking pairs highest first. Its pops only go down: a
pair it queues after freeing an entity was not blocking before (the matching was stable), so
it ranks below the freed entity's old match, which ranks below the pair that displaced it. So
an entity matched by a pop keeps that match, and the repair takes, from the highest pair down,
every eligible pair whose entities are still free — the greedy matching over every scored pair
(``batch_align.one_to_one``), with each pair's bar as the repair reads it when it gets there:
lowered by the hysteresis band for the pairs matched when the repair starts (a pair displaced
later is passed over by both: an entity of it is already taken). That greedy runs here over
the pair book's arrays: one lexsort by ``(-weight, left key, right key)`` — the repair's own
order, ties broken by key — and one pass over the eligible pairs. Cost ``O(p log p)`` for the
``p`` scored pairs, where the repair's Python work grows with the changed pairs' neighbourhoods
(a bulk refresh reconsiders every pair): the decider uses this from :data:`BULK_SHARE` on.
``tests/unit/engine/test_rematch.py`` checks both against each other on random books.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from stream_align import setops
from stream_align.engine import packed
from stream_align.engine.margin import runner_up

if TYPE_CHECKING:
    from stream_align.engine.decisions import Decider

BULK_SHARE = 0.25
"""Changed pairs and reconsidered entities, as a share of the scored pairs, from which the
decider computes the whole matching here instead of repairing it pair by pair."""


GREEDY_PAIRS = 1 << 20
"""Pairs of the greedy pass read into Python at a time: a bulk refresh's book is every pair
(16.8M at 1M a side), and its eligible pairs as two lists of ``int`` objects were ≈ 70 bytes
a pair held at once, beside the book's whole arrays (decision 0133)."""


def _ranks(keys: list[str]) -> np.ndarray:
    """Each node's position in key order (the repair's tie-break compares keys)."""
    ranks = np.empty(len(keys), dtype=np.int64)
    ranks[sorted(range(len(keys)), key=keys.__getitem__)] = np.arange(len(keys))
    return ranks


def partners(matches: Mapping[int, int], nodes: np.ndarray) -> np.ndarray:
    """Each node's partner in ``matches`` (-1: none). Fewer nodes than matches: one dict read
    a node, no pass over ``matches``. More (a whole rematch asks for every scored pair's, 1.7M
    dict reads in a 1,000-insert zh_en batch): ``matches`` sorted once, one binary search."""
    if len(nodes) <= len(matches) or not matches:
        return np.fromiter((matches.get(x, -1) for x in nodes.tolist()), dtype=np.int64,
                           count=len(nodes))
    return SortedMap.of(matches)(nodes)


@dataclass(frozen=True)
class SortedMap:
    """``node → node`` as two arrays sorted by key, for a mapping read many times between
    changes (the labels' forced partners, ``labels.LabelNodes.forced``)."""

    keys: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, mapping: Mapping[int, int]) -> SortedMap:
        keys = np.fromiter(mapping.keys(), dtype=np.int64, count=len(mapping))
        values = np.fromiter(mapping.values(), dtype=np.int64, count=len(mapping))
        order = np.argsort(keys)
        return cls(keys[order], values[order])

    def __len__(self) -> int:
        return len(self.keys)

    def __call__(self, nodes: np.ndarray) -> np.ndarray:
        """Each node's value (-1: not a key), one binary search for all."""
        if not len(self.keys):
            return np.full(len(nodes), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, nodes), len(self.keys) - 1)
        return np.where(self.keys[at] == nodes, self.values[at], -1).astype(np.int64)


def _bars(decider: Decider, u: np.ndarray, v: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each pair's bar, as ``Decider._limit`` computes it."""
    settings = decider.settings
    bar = np.full(len(u), settings.match_threshold)
    if (settings.unnamed_threshold is not None or settings.unnamed_margin is not None
            or settings.neighbourhood_rounds):
        unnamed = ~decider.named_many(u, v)
        if settings.unnamed_threshold is not None:
            bar[unnamed] = settings.unnamed_threshold
        if settings.unnamed_margin is not None:
            ahead = runner_up(np.stack([u, v], axis=1), scores) + settings.unnamed_margin
            bar[unnamed] = np.maximum(bar[unnamed], ahead[unnamed])
        if settings.neighbourhood_rounds:  # the neighbourhood stage matches these
            bar[unnamed] = np.inf
    matched = decider.left_match.of(u) == v
    bar[matched] = bar[matched] - (settings.match_threshold - settings.keep_threshold)
    return bar


def weights(decider: Decider, u: np.ndarray, v: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Each pair's rank as ``Decider._weight`` gives it (``inf``: forced, ``NaN``: not
    eligible or not scored — ``scores`` NaN)."""
    out = np.where(scores >= _bars(decider, u, v, scores), scores, np.nan)
    labels = decider.label_nodes()
    if labels.forced_left or labels.forced_right:
        forced_left, forced_right = labels.forced[0](u), labels.forced[1](v)
        out[(forced_left != -1) | (forced_right != -1)] = np.nan
        out[(forced_left == v) & (forced_right == u) & ~np.isnan(scores)] = np.inf
    if len(labels.refused):
        out[setops.isin(packed.join(u, v), labels.refused)] = np.nan
    return out


def rematch(decider: Decider) -> dict[int, int]:
    """The matching the repair reaches from the decider's current one (left → right node)."""
    u, v, weight = _eligible(decider)
    left, right = decider.book.vocabularies
    order = np.lexsort((_ranks(right.keys)[v], _ranks(left.keys)[u], -weight))
    del weight
    used_left, used_right, out = set(), set(), {}
    for lo in range(0, len(order), GREEDY_PAIRS):
        part = order[lo:lo + GREEDY_PAIRS]
        for a, b in zip(u[part].tolist(), v[part].tolist(), strict=True):
            if a not in used_left and b not in used_right:
                used_left.add(a)
                used_right.add(b)
                out[a] = b
    return out


def _eligible(decider: Decider) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The book's eligible pairs (``weights`` not ``NaN``): lefts, rights and weights, by
    pair. Only these are held past the weights: the book's whole arrays are let go here."""
    u, v, scores = decider.book.arrays()
    weight = weights(decider, u, v, scores)
    del scores
    ok = np.flatnonzero(~np.isnan(weight))
    return u[ok], v[ok], weight[ok]
