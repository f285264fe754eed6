"""Cause ids held as bytes: their sorted vocabulary and each node's smallest ids, as arrays.

``causes.Causes`` keeps a triple change's input id once as UTF-8 bytes in one ``bytearray``
(no ``str`` object per input, decision 0077). An event names the smallest ids by string order;
UTF-8 bytes (``surrogatepass`` for lone surrogates) sort as their code points do, so the ids
are ranked here as fixed-width byte strings, one ``argsort`` for both sides (``Vocabulary``)
— zero-padded, which keeps the order (a prefix sorts first) for ids without a NUL byte. Ids
with one (not expected of input ids, but allowed) are ranked by Python's own sort instead.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np

_ROWS = 1 << 13
"""Ids copied into the fixed-width table at a time (their byte positions: a bounded
transient)."""
_KEYS = 1 << 16
"""Sorted ``(node, rank)`` keys placed into the node rows at a time (a bounded transient)."""
NO_TIME = np.iinfo(np.int64).min
_INT32 = np.iinfo(np.int32).max


class Vocabulary:
    """Every held cause id ranked once, for both sides: the input ids of a ``Causes``'
    entries (``blob[ends[i-1]:ends[i]]``), then its label ids. ``rank[i]`` is row ``i``'s rank
    among the distinct ids (equal ids, equal ranks), ``int32`` below 2**31 distinct ids; only
    the ranks and the row of each rank are kept — an id's bytes are read from the blob when
    :meth:`names` asks for them (decision 0114: a sorted fixed-width copy a side, kept while
    the closures were built and merged, was ≈ 2 × the id width an id)."""

    def __init__(self, blob: bytearray, ends: np.ndarray, labels: Sequence[str]) -> None:
        data = np.frombuffer(blob, dtype=np.uint8) if len(blob) else np.zeros(0, np.uint8)
        extra = [x.encode("utf-8", "surrogatepass") for x in labels]
        self._data, self._ends, self._extra = data, ends, extra
        self._words: list[str] | None = None
        self._packed: np.ndarray | None = None
        if np.count_nonzero(data == 0) or any(b"\0" in x for x in extra):
            self._words, rank = _sorted_by_python(blob, ends, extra)
            self.size = len(self._words)
        else:
            self._width = max(int(np.diff(ends, prepend=0).max(initial=0)),
                              max(map(len, extra), default=0), 1)
            rank = self._ranked(self._fixed(np.arange(len(ends)), extra))
        self.pad = _INT32 if self.size < _INT32 else int(np.iinfo(np.int64).max)
        self.rank = rank.astype(_dtype(self.pad), copy=False)

    @classmethod
    def of_packed(cls, blob: bytearray, labels: Sequence[str]) -> Vocabulary:
        """The vocabulary of packed entries (``blob``: each id's 16 hex bytes, ``Causes``),
        then ``labels``: ranked as 16-byte strings where every label packs too (their order is
        the text's, and the fixed-width table is the blob itself), else as text."""
        raws = [packed_id(x) for x in labels]
        if any(raw is None for raw in raws):
            text, ends = unpacked(blob)
            return cls(text, _column(ends), labels)
        out = cls.__new__(cls)
        out._words, out._width = None, _PACKED
        whole = blob + b"".join(raws) if raws else blob  # no copy of the entries without labels
        out._packed = np.frombuffer(whole, dtype=np.uint8).reshape(-1, _PACKED)
        out._ends = np.zeros(0, dtype=np.int64)
        rank = out._ranked(out._packed.view(f"S{_PACKED}").ravel())
        out.pad = _INT32 if out.size < _INT32 else int(np.iinfo(np.int64).max)
        out.rank = rank.astype(_dtype(out.pad), copy=False)
        return out

    def _ranked(self, fixed: np.ndarray) -> np.ndarray:
        """Each row's dense rank (one ``argsort``, the repeats found chunk by chunk against
        the row before); keeps the first row of each rank."""
        order = np.argsort(fixed)
        new = np.ones(len(order), dtype=bool)
        for lo in range(1, len(order), _ROWS * 8):
            at = order[lo - 1:lo + _ROWS * 8]
            new[lo:lo + len(at) - 1] = fixed[at[1:]] != fixed[at[:-1]]
        del fixed
        dtype = np.int32 if len(order) < _INT32 else np.int64
        dense = np.cumsum(new, dtype=dtype)
        dense -= 1
        self.size = int(dense[-1]) + 1 if len(dense) else 0
        rank = np.empty(len(order), dtype=dtype)
        rank[order] = dense
        self._first = order[new].astype(dtype)  # the row of each rank
        return rank

    def _fixed(self, entries: np.ndarray, extra: list[bytes]) -> np.ndarray:
        """``entries``' ids, then ``extra``, zero-padded to the width (``S{width}``), copied
        :data:`_ROWS` at a time."""
        fixed = np.zeros((len(entries) + len(extra), self._width), dtype=np.uint8)
        columns = np.arange(self._width)
        for lo in range(0, len(entries), _ROWS):
            first = _starts(self._ends, entries[lo:lo + _ROWS])
            size = self._ends[entries[lo:lo + _ROWS]] - first
            inside = columns < size[:, None]
            fixed[lo:lo + len(first)][inside] = self._data[(first[:, None] + columns)[inside]]
        for row, found in enumerate(extra, start=len(entries)):
            fixed[row, :len(found)] = np.frombuffer(found, dtype=np.uint8)
        return fixed.view(f"S{self._width}").ravel()

    def names(self, used: np.ndarray) -> np.ndarray | list[str]:
        """The ids of sorted distinct ranks ``used``: a fixed-width byte array (``names``
        decodes it), or ``str``s where Python ranked them."""
        if self._words is not None:
            return [self._words[r] for r in used.tolist()]
        if self._packed is not None:
            raw = self._packed[self._first[used]]
            text = _HEX[np.stack([raw >> 4, raw & 15], axis=2).reshape(len(raw), 2 * _PACKED)]
            return text.view(f"S{2 * _PACKED}").ravel()
        rows = self._first[used]
        mine = rows < len(self._ends)
        out = np.zeros(len(rows), dtype=f"S{self._width}")
        out[mine] = self._fixed(rows[mine], [])
        out[~mine] = [self._extra[r - len(self._ends)] for r in rows[~mine].tolist()]
        return out


_PACKED = 16
"""Bytes of a packed id (32 hex digits)."""
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def packed_id(event_id: str) -> bytes | None:
    """``event_id``'s 16 bytes if it is 32 lowercase hex digits (``new_event_id``'s form:
    the bytes then sort as the text does and give it back exactly), else ``None``."""
    if len(event_id) != 2 * _PACKED:
        return None
    try:
        raw = bytes.fromhex(event_id)
    except ValueError:
        return None
    return raw if raw.hex() == event_id else None


def unpacked(blob: bytearray) -> tuple[bytearray, array]:
    """Packed entries (16 bytes each) as their text and its ends (``Causes``' columns)."""
    size = 2 * _PACKED
    return (bytearray(blob.hex().encode("ascii")),
            array("q", range(size, size * (len(blob) // _PACKED) + 1, size)))


def _column(ends: array) -> np.ndarray:
    return np.frombuffer(ends, dtype=np.int64) if len(ends) else np.zeros(0, np.int64)


def _dtype(pad: int) -> type:
    """The rank type that :data:`_INT32` as ``pad`` allows (``int32``), else ``int64``."""
    return np.int32 if pad == _INT32 else np.int64


def _starts(ends: np.ndarray, entries: np.ndarray) -> np.ndarray:
    """Where each of ``entries`` starts in the blob (entry ``i`` ends at ``ends[i]``)."""
    return np.where(entries > 0, ends[np.maximum(entries - 1, 0)], 0) if len(entries) \
        else np.zeros(0, dtype=np.int64)


def _sorted_by_python(blob: bytearray, ends: np.ndarray, extra: list[bytes]
                      ) -> tuple[list[str], np.ndarray]:
    starts = _starts(ends, np.arange(len(ends))).tolist()
    ids = [bytes(blob[a:b]) for a, b in zip(starts, ends.tolist(), strict=True)]
    ids += extra
    vocab = sorted(set(ids))
    rank = {x: r for r, x in enumerate(vocab)}
    return ([x.decode("utf-8", "surrogatepass") for x in vocab],
            np.array([rank[x] for x in ids], dtype=np.int64))


def smallest_rows(ids: np.ndarray, limit: int, pad: int) -> np.ndarray:
    """Each row's ``limit`` smallest distinct values, sorted, padded with ``pad``: a sort,
    each repeat turned to ``pad``, a second sort (numpy's vectorised sorts of short rows).
    Returned as a copy: callers keep one result a chunk of rows until they concatenate them,
    and a view would keep each chunk's whole sorted block (``(k + 2) × limit`` columns) alive
    with it (decision 0114)."""
    ids = np.sort(ids, axis=1)
    repeat = np.zeros(ids.shape, dtype=bool)
    repeat[:, 1:] = ids[:, 1:] == ids[:, :-1]
    ids[repeat] = pad
    ids.sort(axis=1)
    return ids[:, :limit].copy()


def names(vocab: np.ndarray | list[str], ranks: np.ndarray) -> list[str]:
    """The ids of ``ranks`` in ``vocab`` (:meth:`Vocabulary.names`')."""
    if isinstance(vocab, list):
        return [vocab[r] for r in ranks.tolist()]
    return [vocab[r].decode("utf-8", "surrogatepass") for r in ranks.tolist()]


def node_rows(nodes: np.ndarray, ranks: np.ndarray, times: np.ndarray, limit: int, pad: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per touch ``i`` (``nodes[i]`` touched by the id of rank ``ranks[i]`` at ``times[i]``):
    each node's row (0: none), the rows of each node's ``limit`` smallest distinct ranks
    (``pad`` past them; row 0 empty) and each row's latest time (row 0: :data:`NO_TIME`).

    One ``int64`` key a touch (its node's row × ``base`` + its rank), sorted in place and
    placed :data:`_KEYS` at a time: ≈ 25 bytes a touch at its peak (decision 0114; the
    ``unique`` and ``lexsort`` of node and rank columns, and their gathers, were ≈ 80)."""
    present = np.zeros(int(nodes.max()) + 1 if len(nodes) else 0, dtype=bool)
    present[nodes] = True
    row = np.cumsum(present, dtype=np.int32)
    row[~present] = 0
    distinct = int(row[-1]) if len(row) else 0
    latest = np.full(distinct + 1, NO_TIME, dtype=np.int64)
    key = row[nodes].astype(np.int64)
    np.maximum.at(latest, key, times)
    base = int(ranks.max(initial=0)) + 1  # (row × base stays below 2**63 for any real drain)
    key *= base
    key += ranks
    key.sort()
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    key = key[new]
    del new
    starts = np.searchsorted(key, np.arange(1, distinct + 1, dtype=np.int64) * base)
    own = np.full((distinct + 1, limit), pad, dtype=_dtype(pad))
    for lo in range(0, len(key), _KEYS):
        group, rank = np.divmod(key[lo:lo + _KEYS], base)
        place = np.arange(lo, lo + len(group)) - starts[group - 1]
        kept = place < limit
        own[group[kept], place[kept]] = rank[kept]
    return row, own, latest


class CauseRows:
    """Entities' smallest cause ids as rows of ranks (``pad`` after each row's ids, as
    :func:`node_rows` and :func:`smallest_rows` leaves them) and each one's latest time (or
    :data:`NO_TIME`), named a row at a time: a ``str`` per id only for the row being read.

    The vocabulary is cut to the ids the rows use, so rows held until a refresh's events are
    staged do not hold every id of the drain."""

    def __init__(self, vocab: Vocabulary, ranks: np.ndarray, latest: np.ndarray, pad: int
                 ) -> None:
        """``ranks`` is renumbered in place (the caller's own array), :data:`_KEYS` cells at
        a time: whole-array masks, ``unique`` and ``searchsorted`` of a refresh's rows were
        ≈ 30 bytes a cell at once (decision 0114)."""
        used = np.zeros(vocab.size + 1, dtype=bool)
        flat = ranks.reshape(-1)
        for lo in range(0, len(flat), _KEYS):
            used[np.minimum(flat[lo:lo + _KEYS], vocab.size)] = True
        used[-1] = False
        renumbered = (np.cumsum(used[:-1]) - 1).astype(ranks.dtype)
        for lo in range(0, len(flat), _KEYS):
            part = flat[lo:lo + _KEYS]
            live = part != pad
            part[live] = renumbered[part[live]]
        self._vocab = vocab.names(np.flatnonzero(used))
        self._ranks, self._latest, self._pad = ranks, latest, pad

    def __len__(self) -> int:
        return len(self._ranks)

    def ids(self, row: int) -> list[str]:
        """Row ``row``'s ids, smallest first."""
        ranks = self._ranks[row]
        return names(self._vocab, ranks[ranks != self._pad])

    def time(self, row: int) -> int | None:
        """Row ``row``'s latest input time (``None``: none known)."""
        when = int(self._latest[row])
        return None if when == NO_TIME else when

    def found(self) -> list[tuple[list[str], int | None]]:
        """Every row's ``(ids, time)``."""
        return [(self.ids(row), self.time(row)) for row in range(len(self))]


class JointIds:
    """Ranks of two ``CauseRows``' ids in one order: their vocabularies are each sorted but
    differ (the two sides' closures), so an id's rank among both is its rank in its own plus
    the count of the other's ids below it — two ``searchsorted`` of the sorted vocabularies,
    no string sort. ``None`` from :meth:`of` where a vocabulary is Python's (ids with a NUL
    byte): then events read their ids a row at a time."""

    def __init__(self, parts: tuple[CauseRows, CauseRows], joint: tuple[np.ndarray, np.ndarray]
                 ) -> None:
        self._parts, self._joint = parts, joint
        self.pad = int(max((int(j.max(initial=-1)) for j in joint), default=-1)) + 1

    @classmethod
    def of(cls, first: CauseRows, second: CauseRows) -> JointIds | None:
        a, b = first._vocab, second._vocab
        if isinstance(a, list) or isinstance(b, list):
            return None
        return cls((first, second), (np.arange(len(a)) + np.searchsorted(b, a),
                                     np.arange(len(b)) + np.searchsorted(a, b)))

    def smallest(self, rows: Sequence[tuple[int, np.ndarray]], limit: int) -> list[list[str]]:
        """For each position ``j`` of the row arrays: the ``limit`` smallest distinct ids of
        rows ``rows[j]`` of the parts named by index (``causes.smallest`` of their ``ids``),
        every position at once: one :func:`smallest_rows` of their joint ranks, each id used
        named once. An event's three rows read and pooled a row at a time were ≈ 1 s of the
        zh_en backlog's 17,601 events (decision 0099)."""
        blocks, named = [], {}
        for index, at in rows:
            part, joint = self._parts[index], self._joint[index]
            ranks = part._ranks[at]
            live = ranks != part._pad
            used = np.unique(ranks[live])
            named.update(zip(joint[used].tolist(), names(part._vocab, used), strict=True))
            mapped = joint[np.where(live, ranks, 0)] if len(joint) else ranks
            blocks.append(np.where(live, mapped, self.pad))
        merged = smallest_rows(np.concatenate(blocks, axis=1), limit, self.pad)
        used, at = np.unique(merged, return_inverse=True)  # the pad, if any, last
        words = [named[rank] for rank in used.tolist() if rank != self.pad]
        counts = np.count_nonzero(merged != self.pad, axis=1).tolist()
        return [list(map(words.__getitem__, row[:count]))
                for row, count in zip(at.reshape(merged.shape).tolist(), counts, strict=True)]
