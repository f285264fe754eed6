"""Pending writes of a transaction layered over the committed database (reads-your-writes).

A read consults the pending writes first, then the database; a prefix scan merges the two sorted
streams, with pending puts added and pending deletes hiding committed keys. A cleared table hides
every committed key at once (one range deletion at commit, however many rows it held). Pending
keys of a table are kept sortable lazily: new keys go to an unsorted tail that is merged into the
sorted list only when a scan needs it, so a batch of writes followed by scans costs one sort, not
one insertion sort per write.
"""

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator

from stream_align.store.database import Database
from stream_align.store.errors import TransactionStateError
from stream_align.store.keys import Table, prefix_end

Pair = tuple[bytes, bytes]


class _PendingTable:
    """Pending values of one table; ``None`` marks a deleted key; ``cleared``: every committed
    key is deleted first."""

    def __init__(self) -> None:
        self.values: dict[bytes, bytes | None] = {}
        self.cleared = False
        self._sorted: list[bytes] = []
        self._unsorted: list[bytes] = []

    def clear(self) -> None:
        self.values.clear()
        self._sorted.clear()
        self._unsorted.clear()
        self.cleared = True

    def set(self, key: bytes, value: bytes | None) -> None:
        if key not in self.values:
            self._unsorted.append(key)
        self.values[key] = value

    def set_rows(self, keys: list[bytes], values: list[bytes | None]) -> None:
        """``set`` of each ``keys[i] = values[i]`` in turn (a later duplicate wins), in two
        passes inside the interpreter's loops, not a call a key: a 10-insert batch stages
        thousands of list rows (decision 0082)."""
        staged = self.values
        self._unsorted.extend(dict.fromkeys([key for key in keys if key not in staged]))
        staged.update(zip(keys, values, strict=True))

    def in_prefix(self, prefix: bytes) -> list[tuple[bytes, bytes | None]]:
        """A snapshot of the pending entries under ``prefix``, sorted by key."""
        if self._unsorted:
            self._sorted.extend(self._unsorted)
            self._sorted.sort()  # timsort: a sorted run plus a short tail costs about O(n)
            self._unsorted.clear()
        start = bisect_left(self._sorted, prefix)
        end = prefix_end(prefix)
        stop = len(self._sorted) if end is None else bisect_left(self._sorted, end, lo=start)
        return [(key, self.values[key]) for key in self._sorted[start:stop]]


def _merge(committed: Iterator[Pair], pending: list[tuple[bytes, bytes | None]]) -> Iterator[Pair]:
    """Merge two key-sorted streams; a pending value replaces (None: hides) a committed one."""
    i = 0
    for key, value in committed:
        while i < len(pending) and pending[i][0] < key:
            if (added := pending[i][1]) is not None:
                yield pending[i][0], added
            i += 1
        if i < len(pending) and pending[i][0] == key:
            if (replaced := pending[i][1]) is not None:
                yield key, replaced
            i += 1
        else:
            yield key, value
    for key, value in pending[i:]:
        if value is not None:
            yield key, value


class PendingWrites:
    """The key-value view a transaction's tables read and write through."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._tables: defaultdict[Table, _PendingTable] = defaultdict(_PendingTable)
        self._open = True

    def _check_open(self) -> None:
        if not self._open:
            raise TransactionStateError("the transaction is already committed or rolled back")

    def get(self, table: Table, key: bytes) -> bytes | None:
        """The value as this transaction sees it."""
        self._check_open()
        pending = self._tables.get(table)
        if pending is not None and key in pending.values:
            return pending.values[key]
        if pending is not None and pending.cleared:
            return None
        return self._database.get(table, key)

    def get_many(self, table: Table, keys: list[bytes]) -> list[bytes | None]:
        """Values of ``keys`` as this transaction sees them; one database multi-get for the
        keys this transaction has not written."""
        self._check_open()
        pending = self._tables.get(table)
        if pending is None or not (pending.values or pending.cleared):
            return self._database.get_many(table, list(keys))  # nothing staged to overlay
        staged = pending.values
        if pending.cleared:
            return [staged.get(key) for key in keys]
        missing = [key for key in keys if key not in staged]
        committed = dict(zip(missing, self._database.get_many(table, missing), strict=True))
        return [staged[key] if key in staged else committed[key] for key in keys]

    def scan(self, table: Table, prefix: bytes = b"") -> Iterator[Pair]:
        """``(key, value)`` pairs under ``prefix`` as this transaction sees them, in key order."""
        self._check_open()
        pending = self._tables.get(table)
        if pending is None:
            return self._database.scan(table, prefix)
        committed = iter(()) if pending.cleared else self._database.scan(table, prefix)
        return _merge(committed, pending.in_prefix(prefix))

    def scan_keys(self, table: Table, prefix: bytes = b"") -> Iterator[bytes]:
        """``scan``'s keys alone."""
        self._check_open()
        if table not in self._tables:
            return self._database.scan_keys(table, prefix)
        return (key for key, _ in self.scan(table, prefix))

    def put(self, table: Table, key: bytes, value: bytes) -> None:
        """Stage ``key = value``."""
        self._check_open()
        self._tables[table].set(key, value)

    def put_many(self, table: Table, keys: Iterable[bytes], value: bytes) -> None:
        """Stage ``key = value`` for each of ``keys`` (one table lookup for a bulk write)."""
        self.put_pairs(table, ((key, value) for key in keys))

    def put_pairs(self, table: Table, pairs: Iterable[tuple[bytes, bytes]]) -> None:
        """Stage each ``(key, value)`` of ``pairs`` in turn."""
        staged = list(pairs)
        self.put_rows(table, [key for key, _ in staged], [value for _, value in staged])

    def put_rows(self, table: Table, keys: list[bytes], values: list[bytes | None]) -> None:
        """Stage ``keys[i] = values[i]`` for each ``i`` (``None``: delete), at once."""
        self._check_open()
        self._tables[table].set_rows(keys, values)

    def delete(self, table: Table, key: bytes) -> None:
        """Stage the deletion of ``key`` (a no-op at commit if it does not exist)."""
        self._check_open()
        self._tables[table].set(key, None)

    def clear(self, table: Table) -> None:
        """Stage the deletion of every key of ``table`` (writes staged after it stay)."""
        self._check_open()
        self._tables[table].clear()

    def cleared(self) -> list[Table]:
        """The tables whose committed keys all go at commit, before the staged writes."""
        return [table for table, pending in self._tables.items() if pending.cleared]

    def handed_over(self) -> Iterator[tuple[Table, dict[bytes, bytes | None]]]:
        """Each table's staged writes, ``key → value`` (``None``: delete), for the commit to
        empty as it copies them into the write batch; the layer is closed first (no read can
        follow), so each value is freed once copied — a bulk batch's staged rows and RocksDB's
        write batch were held whole together (≈ 1.3 KB a list row, decision 0063)."""
        self._check_open()
        self._open = False
        tables, self._tables = self._tables, defaultdict(_PendingTable)
        while tables:
            table, pending = tables.popitem()
            pending._sorted.clear()  # the keys' only other references
            pending._unsorted.clear()
            yield table, pending.values

    def close(self) -> None:
        """Drop the staged writes; later use raises ``TransactionStateError``."""
        self._open = False
        self._tables.clear()
