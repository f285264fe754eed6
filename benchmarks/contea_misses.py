"""Why the neighbourhood rule misses new links: round one's outcome for each new test link.

    python benchmarks/contea_misses.py --dataset ../shared/datasets/contea/ZH-EN --model M \
        --cache C --k 5

A diagnosis that reads test links on purpose (as ``contea_signal.py``): the rule itself never
does. Anchors are what ``align --neighbourhood-rounds`` uses (seeds and the named matches of
``contea_structure.py``'s cached encode); each new link of snapshot ``k`` is put in the first
category that explains it (a named entity, no triple, no anchored neighbour, hub anchors only,
support 0 and why, below the best, a tie, the other side prefers another, matched).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
from contea_rules import contea_parser, open_contea
from contea_structure import _Named, encoded

from stream_align.engine.batch_align import one_to_one, thresholds
from stream_align.engine.neighbourhood import (
    Fanout,
    Support,
    corresponding_relations,
    edges,
    images,
    support_row,
)
from stream_align.eval.snapshot_metrics import snapshot_pair
from stream_align.model.settings import AlignSettings

FANOUT = Fanout()


def _best(row: dict[int, int]) -> tuple[int, bool]:
    """The best count of a row and whether it is unique."""
    values = sorted(row.values(), reverse=True)
    return values[0], len(values) == 1 or values[0] > values[1]


def main() -> None:
    parser = contea_parser(__doc__)
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--k", type=int, default=5)
    args = parser.parse_args()
    bundle, pair, timeline = open_contea(args)
    k = args.k
    sub, keep_a, keep_b = snapshot_pair(pair, timeline, k)
    pairs, scores = encoded(bundle, sub, k, args.cache)
    picked = pairs[one_to_one(pairs, scores, thresholds(
        _Named(sub), pairs, AlignSettings(neighbourhood_rounds=1), scores))]
    ua = np.array([not n for n in sub.a.names])
    ub = np.array([not n for n in sub.b.names])
    named = picked[~(ua[picked[:, 0]] | ub[picked[:, 1]])]
    seeds = sub.train
    agree = ~np.isin(named[:, 0], seeds[:, 0]) & ~np.isin(named[:, 1], seeds[:, 1])
    anchors = dict(np.concatenate([seeds, named[agree]]).tolist())
    adj = edges(sub.a), edges(sub.b)
    relations = corresponding_relations(adj[0], adj[1], anchors)
    free = set(np.flatnonzero(ub).tolist()) - set(anchors.values())
    support = Support()
    for y in {y for x in anchors for y, _, _ in adj[0](x) if ua[y] and y not in anchors}:
        support.set_row(y, support_row(adj, anchors, free.__contains__, images(relations),
                                       FANOUT, y))
    found: Counter[str] = Counter()
    new = timeline.new_test[k]
    for a, b in zip(np.searchsorted(keep_a, new[:, 0]).tolist(),
                    np.searchsorted(keep_b, new[:, 1]).tolist(), strict=True):
        found[_category(a, b, ua, ub, adj, anchors, free, support)] += 1
    total = sum(found.values())
    print(f"{timeline.names[k]}: {total:,} new links, round one of the rule")
    for name, n in found.most_common():
        print(f"- {name}: {n:,} ({n / total:.3f})")


def _category(a, b, ua, ub, adj, anchors, free, support) -> str:
    if not ua[a] or not ub[b]:
        return "a named entity (left to the model)"
    if a in anchors or b not in free:
        return "an entity is an anchor (seed or named match)"
    around = adj[0](a)
    if not around:
        return "no triple"
    anchored = [x for x, _, _ in around if x in anchors]
    if not anchored:
        return "no anchored neighbour"
    usable = [x for x in anchored
              if adj[0].degree(x) <= FANOUT.node and adj[1].degree(anchors[x]) <= FANOUT.node]
    row = support.row(a)
    if not usable and b not in row:
        return "hub anchors only, no small relation group reaches the partner"
    if b not in row:
        images = {anchors[x] for x in usable}
        if any(y in images for y, _, _ in adj[1](b)):
            return "support 0: partner joined to an image by another relation or direction"
        return "support 0: partner joined to no anchor's image"
    top, unique = _best(row)
    if row[b] < top:
        return "below the left entity's best"
    if not unique:
        return "tie at the left entity's best"
    column = support.col(b)
    top, unique = _best(column)
    if column[a] < top:
        return "the right entity prefers another"
    return "matched" if unique else "tie at the right entity's best"


if __name__ == "__main__":
    main()
