"""Cause ids held as bytes: their sorted vocabulary and each node's smallest ids, as arrays.

``causes.Causes`` keeps a triple change's input id once as UTF-8 bytes in one ``bytearray``
(no ``str`` object per input, decision 0077). An event names the smallest ids by string order;
UTF-8 bytes (``surrogatepass`` for lone surrogates) sort as their code points do, so the ids
are ranked here as fixed-width byte strings, one ``np.unique`` for a side — zero-padded, which
keeps the order (a prefix sorts first) for ids without a NUL byte. Ids with one (not expected
of input ids, but allowed) are ranked by Python's own sort instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_ROWS = 1 << 16
"""Ids copied into the fixed-width table at a time (their byte positions: a bounded
transient)."""
NO_TIME = np.iinfo(np.int64).min


def vocabulary(blob: bytearray, ends: np.ndarray, entries: np.ndarray, labels: Sequence[str]
               ) -> tuple[np.ndarray | list[str], np.ndarray]:
    """The sorted distinct ids of ``entries`` (entry ``i``: ``blob[ends[i-1]:ends[i]]``) and
    of ``labels``, and the rank of each (``entries`` first, then ``labels``) among them."""
    data = np.frombuffer(blob, dtype=np.uint8) if len(blob) else np.zeros(0, np.uint8)
    starts = np.where(entries > 0, ends[np.maximum(entries - 1, 0)], 0)
    lengths = ends[entries] - starts if len(entries) else np.zeros(0, np.int64)
    extra = [x.encode("utf-8", "surrogatepass") for x in labels]
    if np.count_nonzero(data == 0) or any(b"\0" in x for x in extra):
        return _sorted_by_python(blob, starts, lengths, extra)
    width = max(int(lengths.max(initial=0)), max(map(len, extra), default=0), 1)
    fixed = np.zeros((len(entries) + len(extra), width), dtype=np.uint8)
    columns = np.arange(width)
    for lo in range(0, len(entries), _ROWS):
        first, size = starts[lo:lo + _ROWS], lengths[lo:lo + _ROWS]
        inside = columns < size[:, None]
        fixed[lo:lo + len(first)][inside] = data[(first[:, None] + columns)[inside]]
    for row, found in enumerate(extra, start=len(entries)):
        fixed[row, :len(found)] = np.frombuffer(found, dtype=np.uint8)
    vocab, ranks = np.unique(fixed.view(f"S{width}").ravel(), return_inverse=True)
    return vocab, ranks.reshape(-1).astype(np.int64)


def _sorted_by_python(blob: bytearray, starts: np.ndarray, lengths: np.ndarray,
                      extra: list[bytes]) -> tuple[list[str], np.ndarray]:
    ids = [bytes(blob[a:a + n]) for a, n in zip(starts.tolist(), lengths.tolist(), strict=True)]
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
    """The ids of ``ranks`` in ``vocab`` (:func:`vocabulary`'s)."""
    if isinstance(vocab, list):
        return [vocab[r] for r in ranks.tolist()]
    return [vocab[r].decode("utf-8", "surrogatepass") for r in ranks.tolist()]


def node_rows(nodes: np.ndarray, ranks: np.ndarray, times: np.ndarray, limit: int, pad: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per touch ``i`` (``nodes[i]`` touched by the id of rank ``ranks[i]`` at ``times[i]``):
    each node's row (0: none), the rows of each node's ``limit`` smallest distinct ranks
    (``pad`` past them; row 0 empty) and each row's latest time (row 0: :data:`NO_TIME`)."""
    distinct, node_at = np.unique(nodes, return_inverse=True)
    node_at = node_at.reshape(-1)
    latest = np.full(len(distinct) + 1, NO_TIME, dtype=np.int64)
    np.maximum.at(latest, node_at + 1, times)
    order = np.lexsort((ranks, node_at))
    group, rank = node_at[order], ranks[order]
    new = np.ones(len(group), dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | (rank[1:] != rank[:-1])
    group, rank = group[new], rank[new]
    place = np.arange(len(group)) - np.searchsorted(group, group)  # within its node's ids
    kept = place < limit
    own = np.full((len(distinct) + 1, limit), pad,
                  dtype=np.int32 if pad == np.iinfo(np.int32).max else np.int64)
    own[group[kept] + 1, place[kept]] = rank[kept]
    row = np.zeros(int(distinct.max()) + 1 if len(distinct) else 0, dtype=np.int64)
    row[distinct] = np.arange(1, len(distinct) + 1)
    return row, own, latest


class CauseRows:
    """Entities' smallest cause ids as rows of ranks (``pad`` after each row's ids, as
    :func:`node_rows` and :func:`smallest_rows` leaves them) and each one's latest time (or
    :data:`NO_TIME`), named a row at a time: a ``str`` per id only for the row being read.

    The vocabulary is cut to the ids the rows use, so rows held until a refresh's events are
    staged do not hold every id of the drain."""

    def __init__(self, vocab: np.ndarray | list[str], ranks: np.ndarray, latest: np.ndarray,
                 pad: int) -> None:
        live = ranks != pad
        used = np.unique(ranks[live])
        self._vocab = [vocab[r] for r in used.tolist()] if isinstance(vocab, list) \
            else vocab[used]
        self._ranks = np.where(live, np.searchsorted(used, ranks), pad).astype(ranks.dtype)
        self._latest, self._pad = latest, pad

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
