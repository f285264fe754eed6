"""A small graph pair written in the DBP15K (JAPE) file layout, so every CLI command can read it.

Two noisy copies of one random multi-relational graph: graph B loses ~15% of the triples and
every fifth name carries a typo. Small enough that training, replay and the service each take
seconds; real enough that structure and names both matter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"]


def _write(path: Path, rows: list[tuple[object, ...]]) -> None:
    path.write_text("".join("\t".join(str(x) for x in row) + "\n" for row in rows))


def write_synthetic_dataset(root: Path, n: int = 150, seed: int = 0) -> Path:
    """Write the dataset under ``root``; entity ``i`` of A is entity ``n + i`` of B."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    names = [f"{WORDS[i % 18]}_{WORDS[(i * 7) % 18]}_{i}" for i in range(n)]
    edges = np.stack([rng.integers(0, n, 4 * n), rng.integers(0, 5, 4 * n),
                      rng.integers(0, n, 4 * n)], 1)
    edges = np.unique(edges[edges[:, 0] != edges[:, 2]], axis=0)
    keep_b = rng.random(len(edges)) < 0.85
    _write(root / "ent_ids_1", [(i, f"http://a.example/resource/{names[i]}") for i in range(n)])
    _write(root / "ent_ids_2", [(n + i, "http://b.example/resource/"
                                 + (names[i][:-1] + "x" if i % 5 == 0 else names[i]))
                                for i in range(n)])
    _write(root / "rel_ids_1", [(r, f"http://a.example/rel{r}") for r in range(5)])
    _write(root / "rel_ids_2", [(5 + r, f"http://b.example/rel{r}") for r in range(5)])
    _write(root / "triples_1", [tuple(e) for e in edges.tolist()])
    _write(root / "triples_2", [(h + n, r + 5, t + n) for h, r, t in edges[keep_b].tolist()])
    order = rng.permutation(n)
    _write(root / "sup_ent_ids", [(i, n + i) for i in order[: n // 5].tolist()])
    _write(root / "ref_ent_ids", [(i, n + i) for i in order[n // 5:].tolist()])
    return root
