"""Deterministic relation-aware neighbour sampling: weighted bottom-k with hash-derived keys.

Why: a film has one director and dozens of actors; sampling uniformly would almost never show the
director. Each edge ``(i, r, j)`` gets weight ``w = 1 / avg[type(i), r]``, the inverse of the
type-level average neighbour count under ``r`` (frozen per model version). Efraimidis–Spirakis
weighted sampling without replacement keeps the ``k`` largest ``key = u^(1/w)``; here
``u = hash(salt, i, j, r) ∈ (0, 1)`` instead of a random draw, so the sample is a pure function
of the neighbourhood: a node's sample changes only when an added neighbour beats its k-th key or
a removed neighbour was in it. The streaming engine relies on that. Keys compare as
``log(u) / w = log(u) · avg`` (monotone in ``u^(1/w)``, no underflow).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def key_hashes(keys: list[str], salt: str) -> np.ndarray:
    """``uint64`` per entity key: stable across runs, machines and index orders."""
    # the keyed state built once and copied per key (the same digests, ≈ 1/3 less CPU than
    # keying a new one each time); the digests joined and read as one array: a numpy store per
    # key was half the cost (a restore hashes every key of both graphs twice, decision 0067)
    keyed = hashlib.blake2b(digest_size=8, key=salt.encode()[:64])

    def digest(key: str, copy=keyed.copy) -> bytes:
        state = copy()
        state.update(key.encode("utf-8"))
        return state.digest()

    digests = b"".join([digest(key) for key in keys])
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: every input bit flips about half of the output bits."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
        return x ^ (x >> np.uint64(31))


def edge_uniforms(node: np.ndarray, neighbour: np.ndarray, relation: np.ndarray) -> np.ndarray:
    """``u ∈ (0, 1)`` per edge from the endpoint key hashes and the relation id."""
    with np.errstate(over="ignore"):
        x = mix(node ^ mix(neighbour + GOLDEN) ^ mix(relation.astype(np.uint64) * GOLDEN))
    return ((x >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)


@dataclass
class Neighbourhood:
    """Sampled neighbours as padded tables; padding points at index ``n`` (a zero row)."""

    nbr: np.ndarray  # int64 (n, k)
    rel: np.ndarray  # int64 (n, k), 0 on padding
    mask: np.ndarray  # bool (n, k)


def average_counts(edges: np.ndarray, types: np.ndarray, n_types: int,
                   n_relations: int) -> np.ndarray:
    """``float32 (n_types, n_relations)``: mean neighbours under r of type-t nodes that have any."""
    pairs, counts = np.unique(edges[:, 0] * n_relations + edges[:, 2], return_counts=True)
    cell = types[pairs // n_relations] * n_relations + pairs % n_relations
    size = n_types * n_relations
    total = np.bincount(cell, weights=counts, minlength=size)
    nodes = np.bincount(cell, minlength=size)
    avg = np.where(nodes > 0, total / np.maximum(nodes, 1), 1.0)
    return avg.reshape(n_types, n_relations).astype(np.float32)


def sample_keys(node_hash: np.ndarray, neighbour_hash: np.ndarray, node_type: np.ndarray,
                relation: np.ndarray, avg: np.ndarray) -> np.ndarray:
    """Log bottom-k key per edge (larger wins) from its ends' key hashes, its node's type and
    its relation; unseen (type, relation) cells weigh 1. Per edge, not per node table: a
    restore's samples read each node's own edges, whose neighbours are numbered in the whole
    graph (``affected.SampleIndex``)."""
    u = edge_uniforms(node_hash, neighbour_hash, relation)
    node_types = np.minimum(node_type, avg.shape[0] - 1)
    rels = np.minimum(relation, avg.shape[1] - 1)
    return np.log(u) * avg[node_types, rels]


def sample(edges: np.ndarray, n: int, hashes: np.ndarray, types: np.ndarray, avg: np.ndarray,
           k: int) -> Neighbourhood:
    """The ``k`` neighbours with the largest keys per node (rows ``(node, neighbour, rel)``)."""
    keys = sample_keys(hashes[edges[:, 0]], hashes[edges[:, 1]], types[edges[:, 0]],
                       edges[:, 2], avg) if len(edges) else np.zeros(0)
    return top_k(edges, keys, n, k)


def top_k(edges: np.ndarray, keys: np.ndarray, n: int, k: int) -> Neighbourhood:
    """Per node ``edges[:, 0] < n``, the ``k`` edges of the largest ``keys``; ties keep the
    edges' order (a stable sort), so a node's sample depends on its own edges' order alone."""
    nbr = np.full((n, k), n, dtype=np.int64)
    rel = np.zeros((n, k), dtype=np.int64)
    mask = np.zeros((n, k), dtype=bool)
    if len(edges):
        order = np.lexsort((-keys, edges[:, 0]))
        node = edges[order, 0]
        starts = np.searchsorted(node, node, side="left")
        slot = np.arange(len(order)) - starts
        keep = slot < k
        rows, cols, picked = node[keep], slot[keep], order[keep]
        nbr[rows, cols] = edges[picked, 1]
        rel[rows, cols] = edges[picked, 2]
        mask[rows, cols] = True
    return Neighbourhood(nbr=nbr, rel=rel, mask=mask)
