"""Shared by the engine tests: a small synthetic graph pair, an untrained model, a store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from untrained_model import untrained_bundle  # noqa: F401 (the engine tests import it here)

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.events.contracts import Label, TripleChange
from stream_align.graph import Graph, GraphPair
from stream_align.service.engine_state import process_into
from stream_align.store import StateStore, StoreSettings

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"]


def _graph(label: str, n: int, names: list[str], triples: np.ndarray, perm: np.ndarray) -> Graph:
    """Graph whose entity ``perm[i]`` is base entity ``i``."""
    order = np.argsort(perm)
    return Graph(label=label, keys=[f"{label.lower()}:{i:04d}" for i in range(n)],
                 names=[names[order[i]] for i in range(n)], types=["" for _ in range(n)],
                 attributes=[{"year": str(1900 + int(order[i]))} if order[i] % 3 else {}
                             for i in range(n)],
                 relations=[f"http://x/rel{r}" for r in range(4)],
                 triples=np.stack([perm[triples[:, 0]], triples[:, 1], perm[triples[:, 2]]], 1))


def synthetic_pair(n: int = 48, seed: int = 0) -> GraphPair:
    """Two noisy copies of one random graph (a hub included), names shared with typos."""
    rng = np.random.default_rng(seed)
    names = [f"{WORDS[i % len(WORDS)]} {WORDS[(i * 7) % len(WORDS)]} {i}" for i in range(n)]
    edges = np.stack([rng.integers(0, n, 4 * n), rng.integers(0, 4, 4 * n),
                      rng.integers(0, n, 4 * n)], 1)
    hub = np.stack([np.arange(1, n), np.full(n - 1, 1), np.zeros(n - 1, dtype=np.int64)], 1)
    edges = np.concatenate([edges, hub])
    edges = np.unique(edges[edges[:, 0] != edges[:, 2]], axis=0)
    keep_b = rng.random(len(edges)) < 0.85
    names_b = [name[:-1] + "x" if i % 5 == 0 else name for i, name in enumerate(names)]
    perm_a, perm_b = rng.permutation(n), rng.permutation(n)
    a = _graph("A", n, names, edges, perm_a)
    b = _graph("B", n, names_b, edges[keep_b], perm_b)
    gold = np.stack([perm_a, perm_b], 1).astype(np.int64)
    return GraphPair(name="synthetic", a=a, b=b, train=gold[:6], valid=gold[6:10], test=gold[10:])


def engine_settings(**overrides: object) -> EngineSettings:
    base: dict[str, object] = {"top_k": 3, "match_threshold": 0.3,
                               "keep_threshold": 0.3, "min_score_delta": 0.0}
    base.update(overrides)
    return EngineSettings.model_validate(base)


def open_store(path: Path) -> StateStore:
    return StateStore(StoreSettings(path=path, block_cache_mb=8, memtable_budget_mb=8))


def forget_level1(store: StateStore, graph_ids: tuple[str, str], version: str) -> None:
    """Delete every stored ``h1`` row: the store as code before decision 0135 wrote it."""
    with store.transaction() as tx:
        for gid in graph_ids:
            keys = tx.level1.read_all(gid, version).keys
            tx.level1.put_rows(gid, version, keys, np.zeros((len(keys), 1), dtype=np.float32),
                               np.zeros(len(keys), dtype=bool), np.zeros(len(keys), dtype=bool))


def run(store: StateStore, engine: AlignmentEngine, changes: list[TripleChange],
        labels: list[Label] | None = None, batch: int = 0) -> list:
    """Process ``changes`` in batches of ``batch`` (0: one batch), one transaction each."""
    size = batch or max(len(changes), 1)
    outcomes = []
    for start in range(0, max(len(changes), 1), size):
        with store.transaction() as tx:
            outcomes.append(process_into(tx, engine, changes[start:start + size],
                                           labels if start == 0 and labels else []))
    return outcomes
