"""Candidate lists as two numpy tables (node ids and scores), not a dict of Python lists.

Each entity's list is ``top_k + reserve`` (20 by default) ``(score, other node)`` entries. As a
dict of lists of tuples that cost ≈ 1.2 KB per entity (a list, 20 tuples, 20 floats, the dict
slot); as rows of an ``int32`` and a ``float32`` table it costs 8 bytes an entry (160 B) plus
the doubling slack. Scores are stored as float32 without loss: every score is an inner product
computed in float32 (FAISS or the scans), so the round trip to Python floats is exact.

The read API is the mapping the engine used (``get``, ``pop``, ``keys``, item assignment,
``in``, ``len``), returning lists of ``(score, node)`` tuples best first. Two read views replace
structures that were kept beside the lists: ``heads`` (each list's first ``top_k`` nodes, the
entity's candidates — read from the row, 0 bytes, where a dict of tuples cost ≈ 490 B per
entity) and ``listed_by`` (who lists a node: a :class:`PairTable` kept with every row change,
8 B an entry, where a dict of sets cost ≈ 1.9 KB per entity).

With CSLS (``csls_k > 0``, decision 0036) the candidates are not the row's first ``top_k`` but
its first ``top_k`` by ``2 s − r(member)``, which depends on the other side's hub scores: the
table then keeps them as rows of their own (``set_heads``: 4 B per candidate), and keeps each
node's own hub score (the mean of its row's first ``csls_k`` scores, 8 B a node), noting the
rows set and the nodes whose hub score moved for the caller to re-rank (``take_due``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from stream_align.arrays import grown, lookup
from stream_align.csls import hub_scores
from stream_align.engine.node_set import NodeSet
from stream_align.engine.packed import LOW
from stream_align.engine.pair_table import PairTable

Entry = tuple[float, int]


class ListTable:
    """``node → [(score, other), ...]`` kept in fixed-width rows (``-1``: an empty slot)."""

    def __init__(self) -> None:
        self._nodes = np.full((0, 0), -1, dtype=np.int32)  # node ids are < 2**31
        self._scores = np.zeros((0, 0), dtype=np.float32)
        self._length = np.zeros(0, dtype=np.int32)  # entries per row; 0: no list
        self._count = 0
        self._inverse = PairTable(values=False)  # (listed node, listing node)
        self.top_k = 0  # entries of a row that are candidates (``heads``)
        self.csls_k = 0  # > 0: candidates are re-ranked by CSLS (``set_heads``)
        self._head = np.full((0, 0), -1, dtype=np.int32)  # CSLS: node → its candidates
        self._hub = np.zeros(0, dtype=np.float64)  # CSLS: node → its own hub score
        self.csls_depth = 0  # CSLS: entries of a row that are re-ranked (0: the whole row)
        self._due: list[np.ndarray] = []  # CSLS: rows set since the last ``take_due``
        self._drift: list[np.ndarray] = []  # CSLS: how far their re-ranked scores moved
        self._moved: list[np.ndarray] = []  # CSLS: nodes whose hub score moved since then
        self._shift: list[np.ndarray] = []  # CSLS: how far each of them moved (``abs``)
        self._slack = np.zeros(0, dtype=np.float64)  # CSLS: node → its heads' slack left
        self.changed = NodeSet()  # rows set since the last ``take_changed`` (to store)
        self.heads = _Heads(self)
        self.listed_by = _ListedBy(self._inverse)

    def _fit(self, node: int, width: int) -> None:
        if width > self._nodes.shape[1]:  # rare: the first list, or a wider setting
            rows = len(self._nodes)
            nodes = np.full((rows, width), -1, dtype=np.int32)
            scores = np.zeros((rows, width), dtype=np.float32)
            nodes[:, : self._nodes.shape[1]] = self._nodes
            scores[:, : self._scores.shape[1]] = self._scores
            self._nodes, self._scores = nodes, scores
        self._nodes = grown(self._nodes, node + 1, -1)
        self._scores = grown(self._scores, node + 1, 0.0)
        self._length = grown(self._length, node + 1, 0)

    def reserve(self, rows: int) -> None:
        """Room for node ids below ``rows`` at once: a rebuild sets a side's rows and a
        re-rank their heads a slice at a time (decision 0133), and each table then grows once,
        to what one write of every row gives, not by doubling slice after slice."""
        if not rows:
            return
        self._fit(rows - 1, 0)
        if self.csls_k:
            self._hub = grown(self._hub, rows, 0.0)
            self._slack = grown(self._slack, rows, 0.0)
            self._head = grown(self._head, rows, -1)

    def __setitem__(self, node: int, entries: list[Entry]) -> None:
        n = len(entries)
        self.assign(np.array([node], dtype=np.int64),
                    np.array([[other for _, other in entries]], dtype=np.int64).reshape(1, n),
                    np.array([[score for score, _ in entries]], dtype=np.float32).reshape(1, n),
                    np.array([n], dtype=np.int64))

    def rows(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Other nodes, scores and lengths of the rows of ``nodes`` (copies; other node ``-1``
        past each length)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        inside = nodes < len(self._length)
        width = self._nodes.shape[1]
        members = np.full((len(nodes), width), -1, dtype=np.int32)
        scores = np.zeros((len(nodes), width), dtype=np.float32)
        lengths = np.zeros(len(nodes), dtype=np.int64)
        members[inside] = self._nodes[nodes[inside]]
        scores[inside] = self._scores[nodes[inside]]
        lengths[inside] = self._length[nodes[inside]]
        members[np.arange(width)[None, :] >= lengths[:, None]] = -1
        return members, scores, lengths

    def assign(self, nodes: np.ndarray, others: np.ndarray, scores: np.ndarray,
               lengths: np.ndarray) -> np.ndarray:
        """Replace the rows of distinct ``nodes`` at once (row ``i``: ``others[i, :lengths[i]]``
        with their scores, best first); returns the keys ``node << 32 | other`` of the pairs
        that entered or left the heads (the candidates)."""
        if not len(nodes):
            return np.zeros(0, dtype=np.int64)
        self._fit(int(nodes.max()), others.shape[1])
        old, old_scores, old_lengths = self.rows(nodes)
        gone, came = _moved(nodes, old, old_lengths, others, lengths)
        self._inverse.change_many(gone & LOW, gone >> 32, present=False)
        self._inverse.change_many(came & LOW, came >> 32, present=True)
        self._count += int(np.count_nonzero(lengths > 0) - np.count_nonzero(old_lengths > 0))
        slots = np.arange(others.shape[1]) < lengths[:, None]
        rows = np.repeat(nodes, lengths)
        columns = np.nonzero(slots)[1]
        self._nodes[nodes] = -1
        self._nodes[rows, columns] = others[slots]
        self._scores[rows, columns] = scores[slots]
        self._length[nodes] = lengths
        self.changed.update(nodes)
        if self.csls_k:  # the heads follow in ``set_heads``, once the hub scores are known
            self._note_hubs(nodes, scores, lengths)
            depth = self.csls_depth or self._nodes.shape[1]
            self._drift.append(score_drift(old, old_scores, np.minimum(old_lengths, depth),
                                           others, scores, np.minimum(lengths, depth)))
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate(_moved(nodes, old, np.minimum(old_lengths, self.top_k),
                                             others, np.minimum(lengths, self.top_k))))

    def _note_hubs(self, nodes: np.ndarray, scores: np.ndarray, lengths: np.ndarray) -> None:
        """Record the rows of ``nodes`` as due for re-ranking and their new hub scores."""
        hubs = hub_scores(scores, lengths, self.csls_k)
        self._hub = grown(self._hub, int(nodes.max()) + 1, 0.0)
        moved = self._hub[nodes] != hubs
        self._moved.append(nodes[moved])
        self._shift.append(np.abs(hubs[moved] - self._hub[nodes[moved]]))
        self._hub[nodes] = hubs
        self._due.append(np.asarray(nodes, dtype=np.int64))

    def hubs(self, nodes: np.ndarray) -> np.ndarray:
        """Hub scores of ``nodes`` (any shape; 0 for ``-1`` or a node without a list)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        flat = lookup(self._hub, np.maximum(nodes.ravel(), 0), 0.0)
        return np.where(nodes.ravel() >= 0, flat, 0.0).reshape(nodes.shape)

    def take_due(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Since the last call: the rows set and how far the scores they re-rank moved
        (``score_drift``, ``inf`` where their members changed), then the nodes whose hub score
        moved and how far; each ascending, a row or node set more than once counting the sum
        of its moves (at least its net move)."""
        due, drift, moved, shift = self._due, self._drift, self._moved, self._shift
        self._due, self._drift, self._moved, self._shift = [], [], [], []
        rows, row_drift = _summed(due, drift)
        nodes, total = _summed(moved, shift)
        return rows, row_drift, nodes, total

    def keep_heads(self, nodes: np.ndarray, need: np.ndarray) -> np.ndarray:
        """Which rows of distinct ``nodes`` keep their heads while their members' CSLS scores
        each move by at most ``need[i] / 2``: those whose slack exceeds ``need`` (it is spent
        by as much); the others must be re-ranked (``set_heads`` gives them new slack)."""
        slack = lookup(self._slack, nodes, 0.0)
        keep = need < slack
        self._slack[nodes[keep]] -= need[keep]
        return keep

    def set_heads(self, nodes: np.ndarray, heads: np.ndarray,
                  slack: np.ndarray | None = None, moves: bool = True) -> np.ndarray:
        """Set the CSLS candidates of distinct ``nodes`` (row ``i``: ``heads[i]``, ``-1`` past
        the end) and their ``slack`` (``csls.rerank_slack``; none: 0, re-ranked whenever a
        member's hub moves); returns the keys ``node << 32 | other`` of the pairs that entered
        or left (``moves`` False: not compared, empty)."""
        if not len(nodes):
            return np.zeros(0, dtype=np.int64)
        self._slack = grown(self._slack, int(nodes.max()) + 1, 0.0)
        self._slack[nodes] = 0.0 if slack is None else slack
        if self._head.shape[1] < heads.shape[1]:  # the first heads (or a wider top_k)
            wider = np.full((len(self._head), heads.shape[1]), -1, dtype=np.int32)
            wider[:, : self._head.shape[1]] = self._head
            self._head = wider
        self._head = grown(self._head, int(nodes.max()) + 1, -1)
        heads = _padded(heads, self._head.shape[1])
        old = self._head[nodes]
        self._head[nodes] = heads
        if not moves:
            return np.zeros(0, dtype=np.int64)
        return np.sort(np.concatenate(_moved(nodes, old, (old >= 0).sum(axis=1), heads,
                                             (heads >= 0).sum(axis=1))))

    def listed_within(self, rows: np.ndarray) -> bool:
        """Whether every row with members is among the distinct ``rows``."""
        return int(np.count_nonzero(lookup(self._length, rows, 0) > 0)) == self._count

    def holds(self, nodes: np.ndarray, others: np.ndarray) -> np.ndarray:
        """Whether ``others[i]`` is a candidate of ``nodes[i]`` (in its ``heads``), for many
        pairs at once."""
        nodes, others = np.asarray(nodes, dtype=np.int64), np.asarray(others, dtype=np.int64)
        out = np.zeros(len(nodes), dtype=bool)
        if self.csls_k:
            inside = nodes < len(self._head)
            out[inside] = (self._head[nodes[inside]] == others[inside, None]).any(axis=1)
            return out
        inside = nodes < len(self._length)
        width = min(self.top_k, self._nodes.shape[1])
        rows = nodes[inside]
        filled = np.arange(width)[None, :] < self._length[rows][:, None]
        out[inside] = ((self._nodes[rows, :width] == others[inside, None]) & filled).any(axis=1)
        return out

    def _row(self, node: int) -> np.ndarray:
        """The other nodes of ``node``'s list, best first (a view)."""
        if node >= len(self._length) or not self._length[node]:
            return np.zeros(0, dtype=np.int32)
        return self._nodes[node, : int(self._length[node])]

    def take_changed(self) -> list[int]:
        """The rows set since the last call, ascending (the delta stores them)."""
        changed, self.changed = self.changed.array().tolist(), NodeSet()
        return changed

    def load(self, nodes: np.ndarray, members: np.ndarray, scores: np.ndarray) -> None:
        """Set the rows of ``nodes`` from stored rows (``members`` ``-1`` past each end) at
        once, into an empty table (a restore sets every list: one at a time is too slow, 0033)."""
        assert not self._count, "load fills an empty table"
        if not len(nodes):
            return
        length = (members >= 0).sum(axis=1).astype(np.int32)
        self._fit(int(nodes.max()), members.shape[1])
        self._nodes[nodes, : members.shape[1]] = members
        self._scores[nodes, : members.shape[1]] = scores
        self._length[nodes] = length
        self._count = int(np.count_nonzero(length))
        owner = np.repeat(nodes, members.shape[1]).reshape(members.shape)
        listed = members >= 0
        self._inverse.load(members[listed].astype(np.int64), owner[listed].astype(np.int64))
        if self.csls_k:
            self._note_hubs(np.asarray(nodes, dtype=np.int64), scores, length)
            self._drift.append(np.full(len(nodes), np.inf))

    def get(self, node: int, default: list[Entry] | tuple = ()) -> list[Entry] | tuple:
        if node >= len(self._length) or not self._length[node]:
            return default
        n = int(self._length[node])
        return list(zip(self._scores[node, :n].tolist(), self._nodes[node, :n].tolist(),
                        strict=True))

    def pop(self, node: int, default: list[Entry] | tuple = ()) -> list[Entry] | tuple:
        found = self.get(node, None)
        if found is None:
            return default
        self[node] = []
        return found

    def __contains__(self, node: object) -> bool:
        return isinstance(node, int) and node < len(self._length) and bool(self._length[node])

    def __len__(self) -> int:
        return self._count

    def keys(self) -> set[int]:
        return set(np.flatnonzero(self._length).tolist())

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self.keys()))

    def nbytes(self) -> int:
        """The rows' bytes (the reverse is counted by ``listed_by``'s table)."""
        return int(self._nodes.nbytes + self._scores.nbytes + self._length.nbytes
                   + self._head.nbytes + self._hub.nbytes + self._slack.nbytes)


def _summed(nodes: list[np.ndarray], values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``nodes`` of the parts, ascending, and the sum of each one's values."""
    if not nodes:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    distinct, at = np.unique(np.concatenate(nodes), return_inverse=True)
    total = np.bincount(at, weights=np.concatenate(values), minlength=len(distinct))
    return distinct.astype(np.int64), total


def score_drift(old: np.ndarray, old_scores: np.ndarray, old_lengths: np.ndarray,
                new: np.ndarray, new_scores: np.ndarray, new_lengths: np.ndarray
                ) -> np.ndarray:
    """Per row, the largest move of a member's score between the old and the new row's first
    ``old_lengths``/``new_lengths`` entries (``float64``) where the two hold the same members
    in the same places — what a repair does to most rows, whose changed members only re-score
    — else ``inf``: what a row set again can move its CSLS scores by through its own scores
    (``engine.csls_heads``). A row whose members only swapped places counts as changed (it
    is re-ranked): comparing in place costs a pass, where matching members cost two sorts
    of every row set, as much as the re-ranks they spared (decision 0076)."""
    old_lengths, new_lengths = np.asarray(old_lengths), np.asarray(new_lengths)
    width = min(old.shape[1], new.shape[1])
    live = np.arange(width) < old_lengths[:, None]
    same = (old_lengths == new_lengths) & (old_lengths <= width) & \
        ((old[:, :width] == new[:, :width]) | ~live).all(axis=1)
    moved = np.abs(new_scores[:, :width].astype(np.float64) - old_scores[:, :width])
    largest = np.where(live, moved, 0.0).max(axis=1, initial=0.0)
    return np.where(same, largest, np.inf)


def _padded(rows: np.ndarray, width: int) -> np.ndarray:
    """``rows`` with ``-1`` columns up to ``width``."""
    if rows.shape[1] >= width:
        return rows
    out = np.full((len(rows), width), -1, dtype=rows.dtype)
    out[:, : rows.shape[1]] = rows
    return out


def _masked_keys(nodes: np.ndarray, others: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``node << 32 | other`` of the entries of each row where ``mask``, row-major."""
    return (np.repeat(np.asarray(nodes, dtype=np.int64), mask.sum(axis=1)) << 32) \
        | others[mask].astype(np.int64)


_MOVED_ROWS = 16_384
"""Rows compared at a time by :func:`_moved` (``rows × width²`` booleans: ≈ 6.5 MB at 20)."""


def _moved(nodes: np.ndarray, old: np.ndarray, old_lengths: np.ndarray, new: np.ndarray,
           new_lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keys ``node << 32 | other`` of the first ``old_lengths[i]`` entries of the old rows
    that the new rows' first ``new_lengths[i]`` lack (*gone*), and of the new entries the old
    rows lack (*came*), each in row-major order: ``setdiff1d`` of the rows' keys both ways
    (a row's entries are distinct), found by comparing each row's ≤ width² entry pairs in
    place instead of sorting and searching every key of the batch — a 100-insert batch sets
    ≈ 20,000 lists of 20 (decision 0062)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    width = min(old.shape[1], new.shape[1])
    kept = np.arange(width) < np.asarray(old_lengths)[:, None]
    unchanged = (np.asarray(old_lengths) == np.asarray(new_lengths)) & \
        ((old[:, :width] == new[:, :width]) | ~kept).all(axis=1)
    rows = np.flatnonzero(~unchanged)  # most rows of a repair keep their members in order
    gone, came = [], []
    for lo in range(0, len(rows), _MOVED_ROWS):
        part = rows[lo:lo + _MOVED_ROWS]
        was = np.arange(old.shape[1]) < old_lengths[part, None]
        now = np.arange(new.shape[1]) < new_lengths[part, None]
        o, n = old[part], new[part]
        same = o[:, :, None] == n[:, None, :]
        same &= was[:, :, None] & now[:, None, :]
        gone.append(_masked_keys(nodes[part], o, was & ~same.any(axis=2)))
        came.append(_masked_keys(nodes[part], n, now & ~same.any(axis=1)))
    empty = [np.zeros(0, dtype=np.int64)]
    return np.concatenate(gone or empty), np.concatenate(came or empty)


class _Heads:
    """``node → tuple`` of its list's first ``top_k`` other nodes (its candidates)."""

    def __init__(self, table: ListTable) -> None:
        self._table = table

    def get(self, node: int, default: tuple = ()) -> tuple[int, ...]:
        table = self._table
        if table.csls_k:
            if node >= len(table._head):
                return default
            heads = table._head[node]
            return tuple(heads[heads >= 0].tolist()) or default
        row = table._row(node)
        return tuple(row[: table.top_k].tolist()) if len(row) else default

    def items(self) -> Iterator[tuple[int, tuple[int, ...]]]:
        return ((node, self.get(node)) for node in self._table)


class _ListedBy:
    """``other node → the nodes whose lists hold it``."""

    def __init__(self, inverse: PairTable) -> None:
        self._inverse = inverse

    def get(self, other: int, default: tuple = ()) -> list[int] | tuple:
        return self._inverse.seconds(other) or default

    def of(self, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(i, node)`` for every node whose list holds ``others[i]``."""
        return self._inverse.seconds_of(others)
