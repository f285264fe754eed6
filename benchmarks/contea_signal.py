"""How much structural signal ContEA's new links carry, from the dataset alone (no model).

    python benchmarks/contea_signal.py --dataset ../shared/datasets/contea/ZH-EN

Per batch: how many entities and new links arrive, the new links' degrees, and how many of them
have a neighbour pair that is aligned by the seeds or by *any* gold link. Then an upper bound
for "confident matches as anchors": with every base entity anchored to its gold counterpart
(train, valid and test links — an oracle, so this reads test links on purpose and is a
diagnosis, never a method), a learning-free matcher pairs each unanchored A entity with the
unanchored B entity sharing the most anchored neighbours (unique best both ways, at least
``n`` shared) and is scored on the batch's new links. Last, the same oracle anchors (now with
the earlier batches' gold links too) under ``engine/neighbourhood.py``'s rule, which also asks
that the relations to the shared neighbours correspond (decision 0025).
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from stream_align.engine.neighbourhood import (
    Edges,
    corresponding_relations,
    support,
    unique_mutual_best,
)


def rows(path: Path) -> list[tuple[int, ...]]:
    return [tuple(map(int, line.split("\t"))) for line in path.read_text().splitlines() if line]


def adjacency(triples: list[tuple[int, ...]]) -> dict[int, set[int]]:
    adj: dict[int, set[int]] = defaultdict(set)
    for h, _, t in triples:
        adj[h].add(t)
        adj[t].add(h)
    return adj


def shared_anchor_matches(adj_a: dict[int, set[int]], adj_b: dict[int, set[int]],
                          anchors: dict[int, int], need: int) -> list[tuple[int, int]]:
    """Unique mutual best pairs of unanchored entities by anchored neighbours shared."""
    taken = set(anchors.values())
    best: dict[int, tuple[int, int]] = {}
    for a in adj_a:
        if a in anchors:
            continue
        shared: Counter[int] = Counter(y for x in adj_a[a] if x in anchors
                                       for y in adj_b.get(anchors[x], ()) if y not in taken)
        top = shared.most_common(2)
        if top and top[0][1] >= need and (len(top) == 1 or top[1][1] < top[0][1]):
            best[a] = top[0]
    by_b: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for a, (b, n) in best.items():
        by_b[b].append((n, a))
    out = []
    for b, ranked in by_b.items():
        ranked.sort(reverse=True)
        if len(ranked) == 1 or ranked[1][0] < ranked[0][0]:
            out.append((ranked[0][1], b))
    return out


def typed(triples: list[tuple[int, ...]]) -> Edges:
    """``engine/neighbourhood.py``'s adjacency: (neighbour, relation, direction) per entity."""
    out: Edges = defaultdict(list)
    for h, r, t in triples:
        out[h].append((t, r, 1))
        out[t].append((h, r, -1))
    return out


def relation_rule(triples: dict[int, list], anchors: dict[int, int], new: list[tuple[int, ...]],
                  unnamed: tuple[set[int], set[int]], fresh: list[set[int]]) -> str:
    """The neighbourhood rule on oracle anchors; its pairs with an entity new in this batch
    scored on the batch's new links (as ContEA counts)."""
    adj = [typed([t for ts in triples[s] for t in ts]) for s in (1, 2)]
    relations = corresponding_relations(adj[0], adj[1], anchors)
    got = [(a, b) for a, b in unique_mutual_best(support(adj[0], adj[1], anchors, unnamed,
                                                         relations, 64))
           if a in fresh[0] or b in fresh[1]]
    hits = len(set(got) & set(new))
    p, r = hits / max(len(got), 1), hits / len(new)
    return (f"  oracle anchors, neighbourhood rule (relations correspond): {len(got):,} pairs, "
            f"P {p:.3f} R {r:.3f} F1 {2 * p * r / (p + r) if hits else 0.0:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True)
    args = parser.parse_args()
    base = args.dataset / "base"
    links = {s: rows(base / f"{s}_links") for s in ("train", "valid", "test")}
    seeds = dict(links["train"])
    batches = sorted((d for d in args.dataset.glob("batch*") if d.name[5:].isdigit()),
                     key=lambda d: int(d.name[5:]))
    new_links = {d.name: rows(d / "new_test_links") for d in batches}
    gold = dict(p for ps in [*links.values(), *new_links.values()] for p in ps)
    oracle = dict(p for ps in links.values() for p in ps)
    triples = {s: [rows(base / f"triples_{s}")] for s in (1, 2)}
    anchors = dict(oracle)
    unnamed: tuple[set[int], set[int]] = (set(), set())
    for d in batches:
        for s in (1, 2):
            triples[s].append(rows(d / f"new_triples_{s}"))
        before = [adjacency([t for ts in triples[s][:-1] for t in ts]) for s in (1, 2)]
        adj = [adjacency([t for ts in triples[s] for t in ts]) for s in (1, 2)]
        fresh = [len(set(adj[s]) - set(before[s])) for s in (0, 1)]
        new = new_links[d.name]
        degrees = np.array([(len(adj[0][a]), len(adj[1][b])) for a, b in new])
        aligned = [sum(m.get(x) in adj[1][b] for x in adj[0][a]) for m in (seeds, gold)
                   for a, b in new]
        by_seed, by_gold = np.array(aligned[:len(new)]), np.array(aligned[len(new):])
        print(f"{d.name}: new entities A {fresh[0]:,} B {fresh[1]:,}, new links {len(new):,}; "
              f"median degree A {np.median(degrees[:, 0]):.0f} B {np.median(degrees[:, 1]):.0f}; "
              f"links with an aligned neighbour pair: seeds {np.mean(by_seed > 0):.3f}, gold "
              f"{np.mean(by_gold > 0):.3f} (>= 2: {np.mean(by_gold > 1):.3f})")
        wanted = set(new)
        for need in (1, 2, 3):
            got = [p for p in shared_anchor_matches(adj[0], adj[1], oracle, need)
                   if p[0] not in before[0] or p[1] not in before[1]]
            hits = sum(p in wanted for p in got)
            p, r = hits / max(len(got), 1), hits / len(new)
            print(f"  oracle anchors, >= {need} shared: {len(got):,} new pairs, P {p:.3f} "
                  f"R {r:.3f} F1 {2 * p * r / (p + r) if hits else 0.0:.3f}")
        arrived = [set(adj[s]) - set(before[s]) for s in (0, 1)]
        for s in (0, 1):
            unnamed[s].update(arrived[s])
        print(relation_rule(triples, anchors, new, unnamed, arrived))
        anchors.update(new)


if __name__ == "__main__":
    main()
