"""The core graph types: two graphs and gold pairs between them.

Every dataset loader (``eval.datasets``) produces them; the model and the engine compute on
them, so they live below all three layers.

Entities are dense indices ``0..n-1`` per graph, in a seeded random order, with opaque keys
(``a:000042``) so that neither the index nor the key carries the benchmark's id leak
(DBP15K/SRPRS test pairs are ``(i, i + 10500)`` in the raw files). The keys are what events and
alignments name; the indices are what the model and engine compute with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

NO_PAIRS = np.zeros((0, 2), dtype=np.int64)


@dataclass
class Graph:
    """One knowledge graph.

    ``names``/``types`` hold ``""`` where unknown (or hidden for a name-blind track).
    ``attributes`` holds every other literal (numbers and dates as strings).
    ``triples`` is an ``int64 (n, 3)`` array of ``(head, relation, tail)`` indices.
    """

    label: str
    keys: list[str]
    names: list[str]
    types: list[str]
    attributes: list[dict[str, str]]
    relations: list[str]
    triples: np.ndarray

    @property
    def num_entities(self) -> int:
        return len(self.keys)

    def index(self) -> dict[str, int]:
        """Key → index map (build once and keep it; it is O(n))."""
        return {key: i for i, key in enumerate(self.keys)}


@dataclass
class Snapshot:
    """One growth step of a continual dataset (ContEA): triples added and the gold links then."""

    name: str
    triples_a: np.ndarray
    triples_b: np.ndarray
    test: np.ndarray
    new_test: np.ndarray


@dataclass
class GraphPair:
    """Two graphs plus gold pairs ``(index in a, index in b)`` per split.

    ``non_matches`` holds labelled negative pairs per split where the dataset has them (the ER
    tables). ``snapshots`` is empty except for continual datasets, where ``a.triples`` and
    ``b.triples`` are the base snapshot and each later snapshot adds its triples.
    """

    name: str
    a: Graph
    b: Graph
    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    non_matches: dict[str, np.ndarray] = field(default_factory=dict)
    snapshots: list[Snapshot] = field(default_factory=list)


def pairs_array(pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """``[(i, j), ...]`` → ``int64 (n, 2)``; an empty input gives a ``(0, 2)`` array."""
    if not pairs:
        return NO_PAIRS.copy()
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


class IdLookup:
    """Vectorised ``dict[int, int]`` lookup over numpy arrays (loaders map millions of ids)."""

    def __init__(self, mapping: dict[int, int]) -> None:
        keys = np.fromiter(mapping.keys(), dtype=np.int64, count=len(mapping))
        values = np.fromiter(mapping.values(), dtype=np.int64, count=len(mapping))
        order = np.argsort(keys)
        self._keys, self._values = keys[order], values[order]

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        """``mapping[x]`` for every ``x``; ``KeyError`` names the first unknown id."""
        raw = np.asarray(raw, dtype=np.int64)
        if raw.size == 0:
            return np.zeros(raw.shape, dtype=np.int64)
        if len(self._keys) == 0:
            raise KeyError(int(raw.flat[0]))
        pos = np.searchsorted(self._keys, raw).clip(max=len(self._keys) - 1)
        missing = self._keys[pos] != raw
        if missing.any():
            raise KeyError(int(raw[missing][0]))
        return self._values[pos]


class Remap:
    """Seeded permutation from raw dataset ids to dense, leak-free indices and keys."""

    def __init__(self, raw_ids: Sequence[int], label: str, seed: int) -> None:
        order = np.random.default_rng([seed, ord(label[0])]).permutation(len(raw_ids))
        self.raw_ids = [raw_ids[k] for k in order]
        self.index = {raw: i for i, raw in enumerate(self.raw_ids)}
        self.keys = [f"{label.lower()}:{i:06d}" for i in range(len(self.raw_ids))]
        self.lookup = IdLookup(self.index)

    def __len__(self) -> int:
        return len(self.raw_ids)

    def __call__(self, raw: int) -> int:
        return self.index[raw]

    def triples(self, raw: np.ndarray, relation_index: dict[int, int]) -> np.ndarray:
        """Raw ``(head, rel, tail)`` ids → index triples."""
        raw = np.asarray(raw, dtype=np.int64).reshape(-1, 3)
        return np.stack([self.lookup(raw[:, 0]), IdLookup(relation_index)(raw[:, 1]),
                         self.lookup(raw[:, 2])], axis=1)


def map_pairs(raw: np.ndarray, remap_a: Remap, remap_b: Remap) -> np.ndarray:
    """Raw ``(id in a, id in b)`` rows → index pairs."""
    raw = np.asarray(raw, dtype=np.int64).reshape(-1, 2)
    return np.stack([remap_a.lookup(raw[:, 0]), remap_b.lookup(raw[:, 1])], axis=1)
