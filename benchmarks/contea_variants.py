"""Rules for ContEA's new entities beyond decision 0040's, on one encode per snapshot (0053).

    python benchmarks/contea_variants.py --dataset ../shared/datasets/contea/ZH-EN --model M \
        --cache DIR --threads 1 --variants rounds2,rounds3,rounds8,carry,inverse,named,two-hop

Per snapshot, what ``eval-snapshots``' full recompute computes up to the neighbourhood rule —
``align`` with the engine's defaults (CSLS heads, shared-anchor candidates, the match threshold
``--threshold``, pairs with an unnamed entity not matched by score) — cached per model version;
then each variant on the same candidate pairs, scores and named matches. Every variant was
fixed before it was measured, by the principle its docstring states; none reads a test link
(test links are read to score only):

- ``roundsR``: main's rule with R rounds (``rounds8`` is the fixed point on ContEA: a round
  that matches nothing ends the iteration) — each round's matches anchor the next.
- ``carry``: the previous snapshot's unnamed matches anchor this snapshot's first round where
  no named match or seed contradicts them, and stay matched (ContEA's own method keeps its
  earlier predictions; self-training across the stream). Snapshots run in order from the base.
- ``inverse``: relations correspond in either orientation (``a —father→ x`` and
  ``x' —child→ b``): B's triples read both ways, each orientation a relation of its own, so
  a relation's most frequent anchored image may be a reversed one.
- ``named``: named entities that no anchor holds are eligible too (their names found no
  partner), so an unnamed entity can be matched to one.
- ``namedR``: ``named`` with R rounds (decision 0057: the two rules that lowered no
  snapshot below its target, together).
- ``csls``, ``named-csls``: the tie-break (decision 0040) reads the pair score corrected for
  hubness: a tied pair is preferred where it reaches the match threshold *and* its CSLS
  ``2·s − r_a − r_b`` is positive, ``r`` an entity's mean of its ``csls_k`` best candidate
  scores (the engine's default 3) — an unnamed entity that scores high with everything is a
  hub, not a match (decision 0057).
- ``two-hop``: after the rounds, an entity with no one-hop support is matched by two-hop
  support — ``a —r— x`` (anchored to ``x'``), ``b —r'— w'`` with ``r'`` an image of ``r`` and
  ``w'`` a neighbour of ``x'`` — among rows and columns the one-hop rule leaves empty.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from contea_rules import contea_parser, open_contea

from stream_align.engine import neighbourhood as nb
from stream_align.engine.batch_align import candidates, one_to_one, thresholds
from stream_align.engine.settings import EngineSettings
from stream_align.eval.snapshot_metrics import Timeline, score_snapshot, snapshot_pair
from stream_align.graph import Graph, GraphPair
from stream_align.model.scorer import ModelScorer
from stream_align.model.settings import AlignSettings


def engine_settings(threshold: float) -> AlignSettings:
    """``align``'s settings as ``eval-snapshots``' full recompute builds them."""
    e = EngineSettings(match_threshold=threshold, keep_threshold=threshold,
                       neighbourhood_rounds=2)
    return AlignSettings(candidates=e.top_k, csls_depth=e.csls_depth, csls_k=e.csls_k,
                         anchor_candidates=e.anchor_candidates, anchor_fanout=e.anchor_fanout,
                         threshold=threshold, neighbourhood_rounds=2,
                         neighbourhood_fanout=e.neighbourhood_fanout,
                         neighbourhood_group_fanout=e.neighbourhood_group_fanout, evidence=0)


def encoded(bundle, sub: GraphPair, k: int, settings: AlignSettings, cache: Path | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate pairs, their scores and the named one-to-one matches of snapshot ``k``."""
    path = None if cache is None else cache / f"{bundle.version}-{k}.npz"
    if path is not None and path.exists():
        data = np.load(path)
        return data["pairs"], data["scores"], data["picked"]
    scorer = ModelScorer(bundle, sub, rerank_k=settings.candidates)
    pairs = candidates(scorer, settings.candidates, None, settings.csls_k, settings.csls_depth,
                       settings.anchor_candidates, settings.anchor_fanout)
    scores, _ = scorer.pair_scores(pairs[:, 0], pairs[:, 1])
    picked = pairs[one_to_one(pairs, scores, thresholds(scorer, pairs, settings, scores))]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, pairs=pairs, scores=scores, picked=picked)
    return pairs, scores, picked


def anchors_of(sub: GraphPair, picked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The named matches, and round one's anchors as ``rematch_unnamed`` takes them."""
    unnamed_a = np.array([not n for n in sub.a.names], dtype=bool)
    unnamed_b = np.array([not n for n in sub.b.names], dtype=bool)
    named = picked[~(unnamed_a[picked[:, 0]] | unnamed_b[picked[:, 1]])]
    seeds = sub.train.reshape(-1, 2)
    agree = ~np.isin(named[:, 0], seeds[:, 0]) & ~np.isin(named[:, 1], seeds[:, 1])
    return named, np.concatenate([seeds, named[agree]])


class _BothOrientations:
    """B's adjacency where each triple also reads reversed: ``x —r'→ y`` is ``y —~r'→ x``
    too (``~r'``: ``r'`` in the inverse orientation), so the library's relation learning and
    support, unchanged, match ``a —father→ x`` with ``x' —child→ b``. Degrees and hub groups
    stay the triples' own."""

    def __init__(self, adj: nb.Adjacency) -> None:
        self.adj = adj

    def __call__(self, node: int) -> list[nb.Edge]:
        return [e for y, r, d in self.adj(node) for e in ((y, r, d), (y, ~r, -d))]

    def degree(self, node: int) -> int:
        return self.adj.degree(node)

    def group(self, node: int, relation: int, direction: int) -> Sequence[int]:
        return (self.adj.group(node, relation, direction) if relation >= 0
                else self.adj.group(node, ~relation, -direction))

    def group_size(self, node: int, relation: int, direction: int) -> int:
        return len(self.group(node, relation, direction))


@contextmanager
def _patched(**functions: Callable) -> Iterator[None]:
    """``engine.neighbourhood``'s functions replaced for one call (a variant's rule)."""
    saved = {name: getattr(nb, name) for name in functions}
    for name, fn in functions.items():
        setattr(nb, name, fn)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(nb, name, fn)


def _free_named_hidden(graph: Graph, held: set[int]) -> Graph:
    """``graph`` with the names of the named entities no anchor holds removed."""
    names = [n if (not n or i in held) else "" for i, n in enumerate(graph.names)]
    return Graph(label=graph.label, keys=graph.keys, names=names, types=graph.types,
                 attributes=graph.attributes, relations=graph.relations, triples=graph.triples)


def two_hop(sub: GraphPair, anchors: dict[int, int], relations: nb.Relations
            ) -> list[tuple[int, int]]:
    """The ``two-hop`` variant's extra matches (module docstring)."""
    adj, fan = (nb.edges(sub.a), nb.edges(sub.b)), nb.HUBS
    index = nb.images(relations)
    free = {i for i, n in enumerate(sub.b.names) if not n} - set(anchors.values())
    lefts = sorted({y for x in anchors for y, _, _ in adj[0](x)
                    if not sub.a.names[y] and y not in anchors})
    one = nb.Support()
    for node in lefts:
        one.set_row(node, nb.support_row(adj, anchors, free.__contains__, index, fan, node))
    reached, two = one.cols.firsts(), nb.Support()
    for node in (n for n in lefts if not one.row(n)):
        counts: dict[int, int] = {}
        for x, r, d in adj[0](node):
            x2, theirs = anchors.get(x), index.get(r)
            if x2 is None or not theirs or adj[1].degree(x2) > fan.node:
                continue
            for w in (w for w, _, _ in adj[1](x2) if adj[1].degree(w) <= fan.node):
                for y, r2, d2 in adj[1](w):
                    if d2 == -d and r2 in theirs and y in free and y not in reached:
                        counts[y] = counts.get(y, 0) + 1
        two.set_row(node, counts)
    return nb.unique_mutual_best(two)


def csls_over(pairs: np.ndarray, scores: np.ndarray, threshold: float, k: int) -> np.ndarray:
    """Which pairs reach ``threshold`` and have a positive CSLS ``2·s − r_a − r_b`` (``r``: an
    entity's mean of its ``k`` best scores among ``pairs``)."""
    def tops(column: np.ndarray) -> np.ndarray:
        n = int(column.max()) + 1
        order = np.lexsort((-scores, column))
        ends = np.searchsorted(column[order], np.arange(n + 1))
        rank = np.arange(len(order)) - ends[column[order]]
        keep = order[rank < k]
        total = np.bincount(column[keep], weights=scores[keep], minlength=n)
        count = np.bincount(column[keep], minlength=n)
        return (total / np.maximum(count, 1))[column]
    return (scores >= threshold) & (2 * scores - tops(pairs[:, 0]) - tops(pairs[:, 1]) > 0)


def variant(name: str, sub: GraphPair, picked: np.ndarray, scored: tuple,
            carried: np.ndarray) -> np.ndarray:
    """The alignment a variant makes (sub-graph indices); ``carried``: the previous
    snapshot's unnamed matches (``carry``)."""
    if name.endswith("csls"):
        scored = scored[0], csls_over(scored[0], scored[2], scored[3], 3)
        name = name[:-len("-csls")] if name != "csls" else "rounds2"
    scored = scored[:2]
    if name.startswith("rounds"):
        return nb.rematch_unnamed(sub.a, sub.b, picked, sub.train, int(name[6:]), scored=scored)
    if name == "inverse":
        plain = nb.edges
        with _patched(edges=lambda g: _BothOrientations(plain(g)) if g is sub.b else plain(g)):
            return nb.rematch_unnamed(sub.a, sub.b, picked, sub.train, 2, scored=scored)
    named, anchors = anchors_of(sub, picked)
    if name.startswith("named"):
        held = np.concatenate([anchors, named])  # a named match stays the model's
        held_a, held_b = set(held[:, 0].tolist()), set(held[:, 1].tolist())
        a, b = _free_named_hidden(sub.a, held_a), _free_named_hidden(sub.b, held_b)
        return nb.rematch_unnamed(a, b, picked, sub.train, int(name[5:] or 2), scored=scored)
    over = set(map(tuple, scored[0][scored[1]].tolist()))
    prefer = lambda left, right: (left, right) in over  # noqa: E731
    if name == "carry":
        keep = ~np.isin(carried[:, 0], anchors[:, 0]) & ~np.isin(carried[:, 1], anchors[:, 1])
        anchors = np.concatenate([anchors, carried[keep]])
        found = nb.neighbourhood_matches(sub.a, sub.b, anchors, 2, prefer=prefer)
        return np.concatenate([named, carried[keep], found])
    if name == "two-hop":
        adj = nb.edges(sub.a), nb.edges(sub.b)
        relations = nb.corresponding_relations(adj[0], adj[1], dict(anchors.tolist()))
        found = nb.neighbourhood_matches(sub.a, sub.b, anchors, 2, relations=relations,
                                         prefer=prefer)
        every = dict(np.concatenate([anchors, found]).tolist())
        more = np.asarray(two_hop(sub, every, relations), dtype=np.int64).reshape(-1, 2)
        return np.concatenate([named, found, more])
    raise SystemExit(f"unknown variant {name}")


def report(timeline: Timeline, k: int, keep: tuple[np.ndarray, np.ndarray], name: str,
           got: np.ndarray, seconds: float) -> np.ndarray:
    """One table row; returns ``got`` in full-dataset indices."""
    full = np.stack([keep[0][got[:, 0]], keep[1][got[:, 1]]], 1)
    out = score_snapshot(timeline, k, full)
    a, n = out["all"], out["new"]
    new = (f"{n.precision:.3f} | {n.recall:.3f} | **{n.f1:.4f}** | {n.predicted:,} | {n.hits}"
           if n else "– | – | – | – | –")
    print(f"| {timeline.names[k]} | {name} | {a.precision:.3f} | {a.recall:.3f} | "
          f"**{a.f1:.4f}** | {new} | {a.predicted:,} | {seconds:.0f} |", flush=True)
    return full


def main() -> None:
    parser = contea_parser(__doc__)
    parser.add_argument("--threshold", type=float, default=0.25, help="match threshold")
    parser.add_argument("--cache", type=Path)
    parser.add_argument("--variants", default="rounds2", help="comma-separated (docstring)")
    parser.add_argument("--snapshots", type=int, nargs="*", help="default: all")
    args = parser.parse_args()
    bundle, pair, timeline = open_contea(args)
    settings = engine_settings(args.threshold)
    print("| snapshot | rule | P | R | F1 | new P | new R | new F1 | predicted new | new right "
          "| predicted | rule s |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    carried = np.zeros((0, 2), dtype=np.int64)  # full-dataset indices
    for k in args.snapshots if args.snapshots is not None else range(len(timeline)):
        sub, keep_a, keep_b = snapshot_pair(pair, timeline, k)
        pairs, scores, picked = encoded(bundle, sub, k, settings, args.cache)
        scored = pairs, scores >= args.threshold, scores, args.threshold
        local = np.stack([np.searchsorted(keep_a, carried[:, 0]),
                          np.searchsorted(keep_b, carried[:, 1])], 1)
        for name in args.variants.split(","):
            started = time.perf_counter()
            got = variant(name, sub, picked, scored, local)
            full = report(timeline, k, (keep_a, keep_b), name, got,
                          time.perf_counter() - started)
            if name == "carry":
                unnamed = np.array([not sub.a.names[i] for i in got[:, 0].tolist()], bool)
                carried = full[unnamed]


if __name__ == "__main__":
    main()
