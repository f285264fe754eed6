"""A whole graph read at once, numbered: what a restore rebuilds its mirror from.

A restore read every entity and every triple as a Python record, and the engine looked each
triple's ends up by key (≈ 15 µs a triple here, decision 0067). Here the entity rows are read
in key order (their position is their number) and their values parsed as one JSON array; the
triple keys (``fwd``: graph, head, relation, tail — empty values) are read in chunks, split
into components with numpy, and their ends found among the entities' key components by a
sorted search (``blocks.Vocabulary``), so a triple costs its key's iteration and no Python
step of its own. Relations are numbered in key order, so the rows come sorted by
``(head, relation, tail)`` and a mirror's out-edges need no sort.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import islice

import numpy as np

from stream_align.store import blocks
from stream_align.store.errors import CorruptValueError
from stream_align.store.keys import Table
from stream_align.store.pending import PendingWrites

CHUNK = 1 << 18
"""Triple keys split at a time (≈ 25 MB of keys and their arrays at 100 bytes a key)."""


@dataclass
class GraphRows:
    """One graph: entity ``i`` is ``keys[i]`` (key order) with ``types[i]`` and
    ``attributes[i]``; each triple row is ``(head entity, relation number, tail entity)``,
    the relation ``relations[number]`` (relations in key order), the rows sorted."""

    keys: list[str]
    types: list[str]
    attributes: list[dict[str, str]]
    relations: list[str]
    triples: np.ndarray  # int64 (m, 3)


def read_graph(kv: PendingWrites, prefix: bytes) -> GraphRows:
    """Every entity and triple of the graph whose keys start with ``prefix``."""
    rows = list(kv.scan(Table.ENTITY, prefix))
    buf, starts, lengths = blocks.joined([key for key, _ in rows])
    (ids, sizes), = blocks.components(buf, starts + len(prefix), starts + lengths, 1)
    if (ids + sizes != starts + lengths).any():
        raise CorruptValueError("an entity key with more than one component")
    keys = blocks.texts(buf, ids, sizes)
    types, attributes = _values([value for _, value in rows])
    entities = blocks.Vocabulary(buf, ids, sizes)
    del rows, buf
    known: dict[bytes, int] = {}
    parts = []
    triples = kv.scan_keys(Table.FORWARD, prefix)
    while chunk := list(islice(triples, CHUNK)):
        parts.append(_triples(chunk, len(prefix), entities, known))
    found = np.concatenate(parts) if parts else np.zeros((0, 3), dtype=np.int64)
    relations, rank = blocks.ranked(known)
    found[:, 1] = rank[found[:, 1]]
    return GraphRows(keys, types, attributes, relations, found)


def _values(values: list[bytes]) -> tuple[list[str], list[dict[str, str]]]:
    """Type and attributes of each entity value (``values.encode_entity``), one parse."""
    try:
        bodies = json.loads(b"[" + b",".join(values) + b"]")
        return [str(b["type"]) for b in bodies], [dict(b["attributes"]) for b in bodies]
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptValueError("a bad entity value") from exc


def _triples(keys: list[bytes], prefix: int, entities: blocks.Vocabulary,
             known: dict[bytes, int]) -> np.ndarray:
    """``(head, relation, tail)`` numbers of a chunk of forward keys."""
    buf, starts, lengths = blocks.joined(keys)
    (h, hn), (r, rn), (t, tn) = blocks.components(buf, starts + prefix, starts + lengths, 3)
    if (t + tn != starts + lengths).any():
        raise CorruptValueError("a triple key with more than four components")
    return np.stack([entities.find(buf, h, hn),
                     blocks.numbered(buf, r, rn, known),
                     entities.find(buf, t, tn)], axis=1)
