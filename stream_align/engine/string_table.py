"""Strings numbered by node in one UTF-8 byte pool, and a key → node hash table over arrays.

The mirror kept each entity's key and name as a Python ``str``, an ``Entity`` object per node,
and a ``dict`` of key → node with an ``int`` object per value: ≈ 390 bytes an entity walked, and
small long-lived objects allocated among each batch's temporaries, which keep their pymalloc
pools and heap pages alive after the batch (decision 0069). Here a node's string is a slice of
one ``bytearray`` (its start and size in ``array`` columns) and the index an open-addressing
table of node numbers beside each node's 64-bit key hash: no object per entity outlives the
call that made it. A string read back is decoded on demand (a temporary). The columns are
``array.array``/``bytearray`` rather than numpy so that one append or lookup is a few Python
steps (≈ 1 µs), not a numpy call each; whole-column work reads them through numpy views.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np

from stream_align.arrays import segments


class StringColumn:
    """``strings[i]`` of nodes ``0..n-1``; a string set again takes new bytes, and the pool is
    compacted once its stale bytes outnumber its live ones."""

    def __init__(self) -> None:
        self._pool = bytearray()
        self._start = array("q")
        self._size = array("i")
        self._live = 0  # bytes of the current strings

    def __len__(self) -> int:
        return len(self._start)

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return self.take(np.arange(len(self._start))[i])
        start = self._start[i]
        return self._pool[start:start + self._size[i]].decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        return iter(self.take(np.arange(len(self._start))))

    def size(self, i: int) -> int:
        """Bytes of node ``i``'s string (0: empty)."""
        return self._size[i]

    def sizes(self, nodes: np.ndarray) -> np.ndarray:
        """Bytes of each of ``nodes``' strings (``size`` of every one at once)."""
        return np.frombuffer(self._size, dtype=np.int32)[nodes]

    def equals(self, i: int, raw: bytes) -> bool:
        """Whether node ``i``'s string is the UTF-8 ``raw``."""
        start = self._start[i]
        return self._size[i] == len(raw) and self._pool[start:start + len(raw)] == raw

    def same_bytes(self, nodes: np.ndarray, pool: np.ndarray, starts: np.ndarray,
                   sizes: np.ndarray) -> np.ndarray:
        """Whether node ``nodes[i]``'s string is ``pool[starts[i]:starts[i] + sizes[i]]``, for
        every ``i`` at once."""
        mine = self.sizes(nodes).astype(np.int64)
        equal = mine == sizes
        rows = np.flatnonzero(equal & (sizes > 0))
        if len(rows):
            own = segments(np.frombuffer(self._pool, dtype=np.uint8),
                           np.frombuffer(self._start, dtype=np.int64)[nodes[rows]], sizes[rows])
            other = segments(pool, starts[rows], sizes[rows])
            bounds = np.cumsum(sizes[rows]) - sizes[rows]
            differ = np.add.reduceat((own != other).astype(np.int64), bounds)
            equal[rows] = differ == 0
        return equal

    def take(self, nodes: Iterable[int] | np.ndarray) -> list[str]:
        """The strings of ``nodes``, in order."""
        nodes = np.fromiter(nodes, dtype=np.int64) if not isinstance(nodes, np.ndarray) \
            else nodes.astype(np.int64, copy=False)
        if len(nodes) and (nodes.min() < 0 or nodes.max() >= len(self._start)):
            raise IndexError("a node past the column")
        starts = np.frombuffer(self._start, dtype=np.int64)[nodes].tolist()
        sizes = self.sizes(nodes).tolist()
        pool = self._pool
        return [pool[s:s + z].decode("utf-8") for s, z in zip(starts, sizes, strict=True)]

    def append(self, text: str) -> int:
        """A new node's string; its node."""
        raw = text.encode("utf-8")
        self._start.append(len(self._pool))
        self._size.append(len(raw))
        self._pool += raw
        self._live += len(raw)
        return len(self._start) - 1

    def extend(self, texts: Sequence[str]) -> None:
        """New nodes' strings at once, numbered in order."""
        raw = [t.encode("utf-8") for t in texts]
        sizes = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
        starts = len(self._pool) + np.cumsum(sizes) - sizes
        self._pool += b"".join(raw)
        self._start.frombytes(starts.astype(np.int64).tobytes())
        self._size.frombytes(sizes.astype(np.int32).tobytes())
        self._live += int(sizes.sum())

    def set(self, i: int, text: str) -> None:
        """Replace node ``i``'s string (its old bytes become stale)."""
        raw = text.encode("utf-8")
        if self.equals(i, raw):
            return
        self._live += len(raw) - self._size[i]
        self._start[i] = len(self._pool)
        self._size[i] = len(raw)
        self._pool += raw
        if len(self._pool) > 2 * self._live + 65536:
            self._compact()

    def _compact(self) -> None:
        """Copy the current strings into a pool of their size, in node order."""
        starts = np.frombuffer(self._start, dtype=np.int64)
        sizes = np.frombuffer(self._size, dtype=np.int32).astype(np.int64)
        ends = np.cumsum(sizes)
        gather = np.arange(int(ends[-1]) if len(ends) else 0, dtype=np.int64) + np.repeat(
            starts - (ends - sizes), sizes)
        pool = np.frombuffer(self._pool, dtype=np.uint8)[gather].tobytes()
        del starts  # the views hold the arrays' buffers: released before they are written
        self._pool = bytearray(pool)
        self._start = array("q")
        self._start.frombytes((ends - sizes).astype(np.int64).tobytes())
        self._live = len(self._pool)

    def nbytes(self) -> int:
        return len(self._pool) + self._start.itemsize * len(self._start) \
            + self._size.itemsize * len(self._size)


class KeyIndex:
    """``key → node`` for the keys of a :class:`StringColumn` (never removed: a deleted
    entity keeps its node): linear probing over a power-of-two table of ``node + 1`` (0:
    empty) at most a quarter full, each node's key hash kept beside it so a probe compares
    hashes first and bytes only on a match."""

    def __init__(self, keys: StringColumn, hasher: Callable[[str], int] = hash) -> None:
        self._keys, self._hasher = keys, hasher  # ``hash``: 64 bits, fixed within a process
        self._hash = array("q")  # by node
        self._table = array("i", bytes(4 * 1024))
        self._mask = 1023

    def __len__(self) -> int:
        return len(self._hash)

    def __getstate__(self) -> dict[str, object]:
        """Pickled without hashes or table: ``hash`` of a ``str`` is salted per process
        (``PYTHONHASHSEED``), so the hashes are only valid in the process that computed them
        and another process indexes the keys again (``__setstate__``)."""
        return {"keys": self._keys, "hasher": self._hasher}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__init__(state["keys"], state["hasher"])
        self.load(self._keys[:])

    def get(self, key: str, default: int | None = None) -> int | None:
        node = self._find(key, self._hasher(key))
        return default if node < 0 else node

    def __getitem__(self, key: str) -> int:
        node = self._find(key, self._hasher(key))
        if node < 0:
            raise KeyError(key)
        return node

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._find(key, self._hasher(key)) >= 0

    def _find(self, key: str, h: int) -> int:
        table, hashes, mask = self._table, self._hash, self._mask
        slot = h & mask
        raw = None
        while (node := table[slot] - 1) >= 0:
            if hashes[node] == h:
                raw = key.encode("utf-8") if raw is None else raw
                if self._keys.equals(node, raw):
                    return node
            slot = (slot + 1) & mask
        return -1

    def nodes_of(self, keys: Sequence[str]) -> np.ndarray:
        """Each key's node (``-1``: none) at once — a restore maps whole tables' keys: the
        probes run as array rounds (each round advances every unsettled key one slot), the
        bytes compared by one gather of both sides."""
        n = len(keys)
        out = np.full(n, -1, dtype=np.int64)
        if not n or not len(self._hash):
            return out
        hashes = np.fromiter(map(self._hasher, keys), dtype=np.int64, count=n)
        table = np.frombuffer(self._table, dtype=np.int32)
        mine = np.frombuffer(self._hash, dtype=np.int64)
        raw = [k.encode("utf-8") for k in keys]
        sizes = np.fromiter(map(len, raw), dtype=np.int64, count=n)
        pool = np.frombuffer(b"".join(raw), dtype=np.uint8)
        starts = np.cumsum(sizes) - sizes
        waiting, slots = np.arange(n), hashes & self._mask
        while len(waiting):
            node = table[slots].astype(np.int64) - 1
            empty = node < 0
            hit = ~empty & (mine[np.maximum(node, 0)] == hashes[waiting])
            same = np.zeros(len(waiting), dtype=bool)
            same[hit] = self._keys.same_bytes(node[hit], pool, starts[waiting[hit]],
                                              sizes[waiting[hit]])
            out[waiting[same]] = node[same]
            going = ~empty & ~same
            waiting, slots = waiting[going], (slots[going] + 1) & self._mask
        return out

    def add(self, key: str, node: int) -> None:
        """Index node ``node``'s key (the next node; a key the index does not hold)."""
        assert node == len(self._hash), "nodes are indexed in order"
        h = self._hasher(key)
        self._hash.append(h)
        if 4 * len(self._hash) > len(self._table):
            self._rebuild()
            return
        table, mask = self._table, self._mask
        slot = h & mask
        while table[slot]:
            slot = (slot + 1) & mask
        table[slot] = node + 1

    def load(self, keys: Sequence[str]) -> None:
        """Index ``keys`` as nodes ``0..len-1`` of an empty index (a restore)."""
        assert not len(self._hash), "load fills an empty index"
        self._hash.frombytes(np.fromiter(map(self._hasher, keys), dtype=np.int64,
                                         count=len(keys)).tobytes())
        self._rebuild()

    def _rebuild(self) -> None:
        """A table of at least four slots a node, every node placed again (vectorised:
        each round places, per free slot wanted, the lowest node wanting it; the others
        move one slot on)."""
        n = len(self._hash)
        size = 1024
        while size < 4 * n:
            size <<= 1
        mask = size - 1
        table = np.zeros(size, dtype=np.int32)
        slots = np.frombuffer(self._hash, dtype=np.int64) & mask
        waiting = np.arange(n, dtype=np.int64)
        while len(waiting):
            free = table[slots] == 0
            first = np.zeros(len(waiting), dtype=bool)
            _, at = np.unique(slots[free], return_index=True)
            first[np.flatnonzero(free)[at]] = True
            table[slots[first]] = waiting[first] + 1
            waiting, slots = waiting[~first], (slots[~first] + 1) & mask
        self._table, self._mask = array("i", table.tobytes()), mask

    def nbytes(self) -> int:
        return 8 * len(self._hash) + 4 * len(self._table)
