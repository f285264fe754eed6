"""Small synthetic multi-type graph pairs for the model, index and engine tests.

One "world" of films, directors, actors and genres; graph B is a noisy copy of graph A (ids
shuffled, names with a typo, a share of edges dropped), so the gold pairs are known.
"""

from __future__ import annotations

import numpy as np

from stream_align.graph import Graph, GraphPair, pairs_array

RELATIONS = ["http://x/directedBy", "http://x/starring", "http://x/genre"]


def _world(rng: np.random.Generator, films: int) -> tuple[list[str], list[str], np.ndarray]:
    n_dir, n_act, n_gen = films // 3, films, 5
    names = ([f"film {rng.integers(1e6)} {i}" for i in range(films)]
             + [f"director {rng.integers(1e6)}" for _ in range(n_dir)]
             + [f"actor {rng.integers(1e6)}" for _ in range(n_act)]
             + [f"genre {g}" for g in range(n_gen)])
    types = ["film"] * films + ["person"] * (n_dir + n_act) + ["genre"] * n_gen
    triples = []
    for f in range(films):
        triples.append((f, 0, films + int(rng.integers(n_dir))))
        for a in rng.choice(n_act, size=6, replace=False):
            triples.append((f, 1, films + n_dir + int(a)))
        triples.append((f, 2, films + n_dir + n_act + int(rng.integers(n_gen))))
    return names, types, np.asarray(triples, dtype=np.int64)


def _typo(name: str, rng: np.random.Generator) -> str:
    k = int(rng.integers(len(name)))
    return name[:k] + name[k + 1:]


def _graph(label: str, names: list[str], types: list[str], triples: np.ndarray,
           hide_names: bool) -> Graph:
    n = len(names)
    return Graph(label=label, keys=[f"{label.lower()}:{i:06d}" for i in range(n)],
                 names=["" if hide_names else x for x in names], types=types,
                 attributes=[{} for _ in range(n)], relations=list(RELATIONS), triples=triples)


def synthetic_pair(films: int = 60, drop: float = 0.1, seed: int = 0,
                   hide_names: bool = False) -> GraphPair:
    """A :class:`GraphPair` with gold train/valid/test splits (60/10/30 %)."""
    rng = np.random.default_rng(seed)
    names, types, triples = _world(rng, films)
    n = len(names)
    perm = rng.permutation(n)  # index in A → index in B
    inv = np.argsort(perm)
    names_b = [_typo(names[inv[j]], rng) for j in range(n)]
    types_b = [types[inv[j]] for j in range(n)]
    kept = triples[rng.random(len(triples)) >= drop]
    triples_b = np.stack([perm[kept[:, 0]], kept[:, 1], perm[kept[:, 2]]], axis=1)
    a = _graph("A", names, types, triples, hide_names)
    b = _graph("B", names_b, types_b, triples_b, hide_names)
    gold = rng.permutation(n)
    cut1, cut2 = int(0.6 * n), int(0.7 * n)
    split = [pairs_array([(int(i), int(perm[i])) for i in gold[s]])
             for s in (slice(0, cut1), slice(cut1, cut2), slice(cut2, n))]
    return GraphPair(name="synthetic", a=a, b=b, train=split[0], valid=split[1], test=split[2])


def valid_outcome(share: float, n: int = 10) -> np.ndarray:
    """A stand-in for the guard's per-pair validation outcome: the first ``share`` of ``n``
    validation pairs ranked right (tests that script the guard's measurements)."""
    right = np.zeros(n, dtype=bool)
    right[:round(share * n)] = True
    return right
