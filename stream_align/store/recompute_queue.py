"""Entities whose embedding recompute was deferred: the engine's hub bound, made durable.

The engine recomputes at most a bounded number of embeddings per batch; the remainder waits here,
in the same batch as the state that made it stale, so a restart drains exactly what the live
process would have. Each row carries a sequence number so the queue drains oldest first; the
next number is stored too (``counter/recompute_seq``), so a restored queue numbers new work
exactly as the live one would.
"""

from collections.abc import Iterator

from stream_align.store.counters import RECOMPUTE_SEQ, peek
from stream_align.store.keys import Table, pack, read_u64, u64, unpack
from stream_align.store.pending import PendingWrites
from stream_align.store.settings import StoreSettings


class RecomputeQueue:
    """Deferred-recompute reads and writes inside one transaction."""

    def __init__(self, kv: PendingWrites, settings: StoreSettings) -> None:
        self._kv = kv
        self._settings = settings

    def _key(self, graph: str, entity_id: str) -> bytes:
        self._settings.check_graph(graph)
        return pack(graph, entity_id)

    def push(self, graph: str, entity_id: str, seq: int) -> None:
        """Queue the entity (or move it to ``seq`` if already queued)."""
        self._kv.put(Table.RECOMPUTE, self._key(graph, entity_id), u64(seq))

    def next_seq(self) -> int:
        """The sequence number the next queued entity gets."""
        return peek(self._kv, RECOMPUTE_SEQ)

    def set_next_seq(self, seq: int) -> None:
        """Advance the stored next sequence number (with the rows that used the earlier ones)."""
        self._kv.put(Table.META, RECOMPUTE_SEQ, u64(seq))

    def pop(self, graph: str, entity_id: str) -> None:
        """Drop the entity from the queue (no-op if it is not queued)."""
        self._kv.delete(Table.RECOMPUTE, self._key(graph, entity_id))

    def all(self) -> Iterator[tuple[int, str, str]]:
        """Every queued ``(seq, graph, entity)``, ordered by graph and entity."""
        for key, value in self._kv.scan(Table.RECOMPUTE):
            graph, entity_id = unpack(key)
            yield read_u64(value), graph, entity_id
