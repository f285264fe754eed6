"""Many stored rows decoded at once: joined values, key components, fixed-width key arrays.

A restore reads every row of the state (at 1M entities a side ≈ 2M entity rows, ≈ 8M triple
keys, 2M list rows): decoding them one at a time in Python was most of a restore (0.2–0.4 ms
an entity, docs/BENCHMARKS.md, decision 0067). Here a table's rows are joined into one byte
array and each field is cut out of all rows at once (``windows``: a row copy each); keys
(length-prefixed components, ``keys``) are split the same way, one component position at a
time. Components are matched by value as fixed-width byte strings (numpy ``S``): the length
prefix makes two components equal exactly when their bytes are, and orders them as RocksDB's
bytewise comparator does, so a sorted table's components can be searched.
"""

from __future__ import annotations

import numpy as np

from stream_align.store.errors import CorruptValueError

WIDEST = 256
"""Components up to this many bytes are matched as fixed-width arrays (a graph of 1M entities:
≤ 256 MB while restoring); a graph with a longer key is matched through a dictionary."""
_MIX = np.random.default_rng(67).integers(1, 2**63, WIDEST // 8, dtype=np.uint64) | np.uint64(1)
"""Odd 64-bit multipliers of a component's 8-byte words: ``numbered``'s hash."""


def joined(values: list[bytes]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The values joined into one byte array, each one's start and length."""
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    starts = np.cumsum(lengths) - lengths
    return np.frombuffer(b"".join(values), dtype=np.uint8), starts, lengths


def windows(buf: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """``(len(starts), width)`` bytes: the ``width`` bytes from each start (past the end of
    ``buf``: zeros), one row copy each — not an index per byte, which cost more than reading
    the rows (41 MB of vectors at 40K a side: 2.7 s against 0.26 s)."""
    if not len(starts) or width <= 0:
        return np.zeros((len(starts), max(width, 0)), dtype=np.uint8)
    need = int(starts.max()) + width
    if need > len(buf):
        buf = np.concatenate([buf, np.zeros(need - len(buf), dtype=np.uint8)])
    return np.lib.stride_tricks.sliding_window_view(buf, width)[starts]


def column(buf: np.ndarray, starts: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """One item of ``dtype`` from each start."""
    return windows(buf, starts, dtype.itemsize).view(dtype).reshape(len(starts))


def ragged(buf: np.ndarray, starts: np.ndarray, counts: np.ndarray,
           dtype: np.dtype) -> np.ndarray:
    """``counts[i]`` items of ``dtype`` from each ``starts[i]``, concatenated in row order.
    Rows are read in groups of similar counts (a power of two apart at most), so a few long
    rows — a hub's pairs — do not widen every row's copy."""
    counts = np.asarray(counts, dtype=np.int64)
    out = np.empty(int(counts.sum()), dtype=dtype)
    offsets = np.cumsum(counts) - counts
    group = np.ceil(np.log2(np.maximum(counts, 1))).astype(np.int64)
    for g in np.unique(group[counts > 0]).tolist():
        rows = np.flatnonzero((group == g) & (counts > 0))
        width = int(counts[rows].max())
        items = windows(buf, starts[rows], width * dtype.itemsize).view(dtype)
        filled = np.arange(width) < counts[rows][:, None]
        out[(offsets[rows][:, None] + np.arange(width))[filled]] = items[filled]
    return out


def components(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
               count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``count`` components of every key (``starts``/``ends`` in ``buf``): for each
    position, every key's component start and length *with* its 2-byte prefix."""
    out = []
    at = starts.copy()
    for _ in range(count):
        if (at + 2 > ends).any():
            raise CorruptValueError("a key with fewer components than its table's")
        size = 2 + (buf[at].astype(np.int64) << 8 | buf[at + 1])
        out.append((at, size))
        at = at + size
    if (at > ends).any():
        raise CorruptValueError("a truncated key component")
    return out


def equal_to(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, value: bytes
             ) -> np.ndarray:
    """Whether each segment's bytes are ``value``'s: one compare of ``len(value)`` bytes a
    row, not ``numbered``'s hash, sort and check (a restore asks it of every embedding row
    with the model version: a fifth of their decode at 200K a side, decision 0132)."""
    want = np.frombuffer(value, dtype=np.uint8)
    out = lengths == len(want)
    if len(want) and out.any():
        out[out] = (windows(buf, starts[out], len(want)) == want).all(axis=1)
    return out


def fixed(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray, width: int) -> np.ndarray:
    """Each segment as a ``width``-byte string (zero-padded; callers check lengths fit)."""
    out = windows(buf, starts, max(width, 1))
    out[np.arange(out.shape[1]) >= lengths[:, None]] = 0
    return out.view(f"S{out.shape[1]}").ravel()


def key_texts(keys: list[bytes], prefix: int) -> list[str]:
    """The one string component after ``prefix`` bytes of each key (checked: one component
    exactly, as ``pack`` wrote it)."""
    buf, starts, lengths = joined(keys)
    size = column(buf, starts + prefix, np.dtype(">u2")).astype(np.int64)
    if (size != lengths - prefix - 2).any():
        raise CorruptValueError("a key of more than one component")
    try:
        return [key[prefix + 2:].decode() for key in keys]
    except UnicodeDecodeError as exc:
        raise CorruptValueError("an undecodable key") from exc


def texts(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> list[str]:
    """Each component (``starts``/``lengths`` with the prefix) decoded as text."""
    raw = buf.tobytes()
    try:
        return [raw[lo + 2:lo + n].decode() for lo, n in
                zip(starts.tolist(), lengths.tolist(), strict=True)]
    except UnicodeDecodeError as exc:
        raise CorruptValueError("an undecodable key component") from exc


class Vocabulary:
    """The components of a sorted table's keys (e.g. a graph's entities in key order), to
    find other keys' components among them: positions are the rows' order."""

    def __init__(self, buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> None:
        self.width = int(lengths.max(initial=2))
        self._sorted: np.ndarray | None = None
        self._index: dict[bytes, int] | None = None
        if self.width <= WIDEST:
            names = fixed(buf, starts, lengths, self.width)
            if len(names) < 2 or bool((names[1:] > names[:-1]).all()):
                self._sorted = names
        if self._sorted is None:  # a long key, or not sorted as expected: one lookup each
            raw = buf.tobytes()
            self._index = {raw[lo:lo + n]: i for i, (lo, n) in
                           enumerate(zip(starts.tolist(), lengths.tolist(), strict=True))}

    def find(self, buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """The position of each component (``CorruptValueError`` if one is not there)."""
        if self._sorted is None:
            assert self._index is not None
            raw = buf.tobytes()
            try:
                return np.fromiter((self._index[raw[lo:lo + n]] for lo, n in
                                    zip(starts.tolist(), lengths.tolist(), strict=True)),
                                   dtype=np.int64, count=len(starts))
            except KeyError as exc:
                raise CorruptValueError("a triple names an entity the graph lacks") from exc
        if (lengths > self.width).any():
            raise CorruptValueError("a triple names an entity the graph lacks")
        names = fixed(buf, starts, lengths, self.width)
        at = np.searchsorted(self._sorted, names)
        if len(at) and ((at >= len(self._sorted))
                        | (self._sorted[np.minimum(at, len(self._sorted) - 1)] != names)).any():
            raise CorruptValueError("a triple names an entity the graph lacks")
        return at.astype(np.int64)


def numbered(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
             known: dict[bytes, int]) -> np.ndarray:
    """Each component's number in ``known`` (component → number), new ones numbered on as
    they first appear (a graph's relations: a few hundred among millions of triples). The
    components are told apart by a 64-bit hash of their bytes, checked: every row must equal
    its hash's first row byte for byte, else the rows are sorted as strings (slower: a sort
    of byte strings was most of a triple's decode)."""
    width = -(-int(lengths.max(initial=2)) // 8) * 8
    raw = buf.tobytes()
    if width > WIDEST:
        return np.fromiter((known.setdefault(raw[lo:lo + n], len(known)) for lo, n in
                            zip(starts.tolist(), lengths.tolist(), strict=True)),
                           dtype=np.int64, count=len(starts))
    rows = windows(buf, starts, width)
    rows[np.arange(width) >= lengths[:, None]] = 0
    words = rows.view(np.uint64)
    hashed = (words * _MIX[: words.shape[1]]).sum(axis=1, dtype=np.uint64)
    _, first, inverse = np.unique(hashed, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    if not (rows == rows[first[inverse]]).all():  # two components, one hash
        _, first, inverse = np.unique(rows.view(f"S{width}").ravel(), return_index=True,
                                      return_inverse=True)
        inverse = inverse.ravel()
    number = np.zeros(len(first), dtype=np.int64)
    for d in np.argsort(first, kind="stable").tolist():
        lo, n = int(starts[first[d]]), int(lengths[first[d]])
        number[d] = known.setdefault(raw[lo:lo + n], len(known))
    return number[inverse]


def ranked(known: dict[bytes, int]) -> tuple[list[str], np.ndarray]:
    """The components of ``known`` in key order, decoded, and each number's rank there."""
    order = sorted(known, key=bytes)  # bytewise, as RocksDB orders keys
    rank = np.zeros(len(known), dtype=np.int64)
    rank[[known[c] for c in order]] = np.arange(len(order))
    try:
        return [c[2:].decode() for c in order], rank
    except UnicodeDecodeError as exc:
        raise CorruptValueError("an undecodable key component") from exc
