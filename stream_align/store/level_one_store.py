"""Each entity's level-1 state ``h1`` (``engine.level1_cache``), stored with its embedding.

A restore that finds no row computes it: at 1M entities a side the first call after a restore
computed most of the rows its pairs reached, and the restore warmed 16,384 a graph (decisions
0104, 0130). Stored, a restore reads them (decision 0135). A row carries the model version that
computed it (rows of another version are not read: their entities are recomputed) and whether
the engine held it current (``LevelOneCache.current``), so a restored cache is the one stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

import numpy as np

from stream_align.store import blocks
from stream_align.store.errors import CorruptValueError
from stream_align.store.keys import Table, component, pack
from stream_align.store.pending import PendingWrites
from stream_align.store.settings import StoreSettings

CHUNK = 65_536
"""Rows decoded at a time on restore (as ``embedding_store.CHUNK``)."""


@dataclass
class LevelOneRowsRead:
    """A graph's stored ``h1`` rows of one model version: ``keys[i]`` has ``rows[i]``,
    ``current[i]`` as the engine held it."""

    keys: list[str]
    rows: np.ndarray  # float32 (n, d)
    current: np.ndarray  # bool (n,)


class LevelOneStore:
    """``h1`` row reads and writes inside one transaction."""

    def __init__(self, kv: PendingWrites, settings: StoreSettings) -> None:
        self._kv = kv
        self._settings = settings

    def put_rows(self, graph: str, model_version: str, entity_ids: list[str], rows: np.ndarray,
                 current: np.ndarray, kept: np.ndarray) -> None:
        """Store ``rows[i]`` (float32) of ``entity_ids[i]`` with ``current[i]``; where
        ``kept[i]`` is False, delete the entity's row."""
        self._settings.check_graph(graph)
        prefix, head = pack(graph), np.frombuffer(pack(model_version), dtype=np.uint8)
        table = np.empty((len(entity_ids), len(head) + 1 + 4 * rows.shape[1]), dtype=np.uint8)
        table[:, :len(head)] = head
        table[:, len(head)] = np.asarray(current, dtype=np.uint8)
        table[:, len(head) + 1:] = np.ascontiguousarray(rows, dtype="<f4").view(np.uint8)
        self._kv.put_rows(Table.LEVEL1, [prefix + component(key) for key in entity_ids],
                          [row.tobytes() if keep else None for row, keep in
                           zip(table, np.asarray(kept).tolist(), strict=True)])

    def read_all(self, graph: str, model_version: str) -> LevelOneRowsRead:
        """Every row of ``graph`` computed by ``model_version``, decoded ``CHUNK`` at a time."""
        self._settings.check_graph(graph)
        prefix, version = pack(graph), pack(model_version)
        keys: list[bytes] = []
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        scan = self._kv.scan(Table.LEVEL1, prefix)
        while chunk := list(islice(scan, CHUNK)):
            mine, found = _decode([value for _, value in chunk], version)
            keys.extend(key for (key, _), keep in zip(chunk, mine.tolist(), strict=True) if keep)
            parts.append(found)
        width = {rows.shape[1] - 1 for rows in parts if len(rows)}
        if len(width) > 1:
            raise CorruptValueError(f"h1 rows of {model_version} of unequal lengths")
        table = np.concatenate([rows for rows in parts if len(rows)]) if width else \
            np.zeros((0, 1), dtype=np.uint8)
        return LevelOneRowsRead(blocks.key_texts(keys, len(prefix)),
                                np.ascontiguousarray(table[:, 1:]).view("<f4"),
                                table[:, 0] == 1)


def _decode(values: list[bytes], version: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Which values are of ``version``, and their bytes after it (the flag, then the row)."""
    buf, starts, lengths = blocks.joined(values)
    (at, size), = blocks.components(buf, starts, starts + lengths, 1)
    mine = blocks.equal_to(buf, at, size, version)
    width = (lengths - size)[mine]
    if len(width) and ((width != width[0]).any() or (width[0] - 1) % 4):
        raise CorruptValueError("h1 rows of one model version of unequal lengths")
    return mine, blocks.windows(buf, (at + size)[mine], int(width[0]) if len(width) else 1)
