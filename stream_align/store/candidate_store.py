"""Candidate lists and pair scores: what lets a restore skip the batch alignment it implies.

Rebuilding every candidate list and re-scoring every candidate pair from the stored vectors is
a batch alignment — quadratic products and cross-graph attention for every pair: 81 % of a
restore at 40K entities a side (docs/BENCHMARKS.md, decision 0033). So the engine's lists and
pair scores are stored with the state they follow, a row per entity (a list: its bound and
members; a left entity: all its scored pairs), members named by FAISS id (8 bytes, the store's
own id map, where entity keys run to ~60 bytes). ``state`` records whether the rows are also
*current* — written by an engine with no held work, under a given model version and list
settings — which is when a restore reads them instead of rebuilding them.

A list row is its bound (``<f8``), a cell count ``c`` (``<i4``) and ``c`` cells (``<i4``: with
IVF the owner's own cell and the cells its list probes, which a restore otherwise searches for
— ``n · nlist`` centroid products, growing as ``n^1.5``), an anchor count ``h`` (``<i4``) and
``h`` ids (``<i8``: the owner's shared-anchor candidates, which a restore otherwise recomputes
from every sample, decision 0089), then its member ids (``<i8``) and scores (``<f4``); a pair
row is the ids then the scores. A list row stays while it has a member or an anchor
candidate. A restore reads a table's rows as one block (``list_block``, ``pair_block``: one
decode of the joined values, decision 0067). Rows written before the cells were stored (no
count) are never read as current: the engine's ``candidate_state.fingerprint`` names the row
format, so such a store is rebuilt once. Rows written before decision 0089 (no anchor count)
are read with ``list_block(graph, anchors=False)``: an upgrade reads its lists and rewrites
every row once instead of rebuilding them.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice

import numpy as np

from stream_align.store import blocks
from stream_align.store.errors import CorruptValueError
from stream_align.store.keys import Table, component, pack
from stream_align.store.pending import PendingWrites
from stream_align.store.settings import StoreSettings

STATE = b"candidates/state"
_KEPT_STATE, _KEPT_LIST, _KEPT_PAIR = b"s", b"c", b"p"
_KEPT_TABLES = {_KEPT_LIST[0]: Table.CANDIDATES, _KEPT_PAIR[0]: Table.PAIR_SCORE}
_IDS, _SCORES, _BOUND, _CELLS = np.dtype("<i8"), np.dtype("<f4"), np.dtype("<f8"), np.dtype("<i4")
ENCODE_ROWS = 16_384
"""Rows encoded at a time by ``put_lists``: a bulk refresh sets every list (400,000 rows at 200K
entities a side), and encoding them at once held the reordered ids, a byte matrix, its mask and
the values of all rows together — ≈ 1 KB an entity at that moment; a slice bounds that copy
(decision 0050)."""


def _encode_rows(ids: np.ndarray, scores: np.ndarray, keep: np.ndarray,
                 heads: np.ndarray, head_taken: np.ndarray) -> list[bytes]:
    """The stored value of each row ``i``: the bytes of ``heads[i]`` (``(n, h)`` ``uint8``)
    where ``head_taken``, then the ids (``<i8``) and the scores (``<f4``) of the row where
    ``keep``, in order — one masked copy of all rows' bytes, not an encoding per row."""
    n, width = keep.shape
    count = keep.sum(axis=1)
    order = np.argsort(~keep, axis=1, kind="stable")  # kept entries first, in their order
    id_rows = np.take_along_axis(np.asarray(ids), order, axis=1).astype(_IDS)
    score_rows = np.take_along_axis(np.asarray(scores), order, axis=1).astype(_SCORES)
    cells = np.concatenate([heads, id_rows.view(np.uint8).reshape(n, 8 * width),
                            score_rows.view(np.uint8).reshape(n, 4 * width)], axis=1)
    taken = np.concatenate([head_taken,
                            np.arange(8 * width) < 8 * count[:, None],
                            np.arange(4 * width) < 4 * count[:, None]], axis=1)
    flat = cells[taken].tobytes()
    ends = np.cumsum(taken.sum(axis=1)).tolist()
    return [flat[lo:hi] for lo, hi in zip([0, *ends][:-1], ends, strict=True)]


def _list_heads(bounds: np.ndarray, cells: np.ndarray | None, anchors: np.ndarray | None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Each list row's head bytes and which of them are taken: its bound (``<f8``), how many
    cells follow (``<i4``), the cells (``<i4``: the owner's own IVF cell, then the cells its
    list probes), how many anchor candidates follow (``<i4``) and their ids (``<i8``: the
    entries of ``anchors`` other than ``-1``, a prefix of each row); ``anchors`` None: the
    layout before decision 0089, without them."""
    n = len(bounds)
    cells = np.zeros((n, 0), dtype=_CELLS) if cells is None else \
        np.ascontiguousarray(cells, dtype=_CELLS).reshape(n, -1)
    count = np.full(n, cells.shape[1], dtype=_CELLS)
    legacy = anchors is None
    anchors = np.ascontiguousarray(np.zeros((n, 0)) if legacy else anchors,
                                   dtype=_IDS).reshape(n, -1)
    held = (anchors != -1).sum(axis=1).astype(_CELLS)
    fixed = np.concatenate([np.ascontiguousarray(bounds, dtype=_BOUND).reshape(n, 1)
                            .view(np.uint8), count.reshape(n, 1).view(np.uint8),
                            cells.view(np.uint8).reshape(n, 4 * cells.shape[1]),
                            held.reshape(n, 1)[:, :0 if legacy else 1].view(np.uint8)],
                           axis=1)
    width = anchors.shape[1]
    head = np.concatenate([fixed, anchors.view(np.uint8).reshape(n, 8 * width)], axis=1)
    taken = np.concatenate([np.ones(fixed.shape, dtype=bool),
                            np.arange(8 * width) < 8 * held[:, None]], axis=1)
    return head, taken


@dataclass
class ListBlock:
    """Every stored list of a graph, columnar (a restore reads them all: one decode of the
    joined rows, not one per row, decision 0067): row ``i`` is ``keys[i]``'s bound, its
    ``lengths[i]`` members (FAISS ids of the other graph, best first) and their scores, the
    rows' entries concatenated in ``ids``/``scores``; ``cells[i]`` the owner's own IVF cell
    then its list's probed cells (``-1`` past the stored ones; no column without IVF);
    ``anchors[i]`` the owner's shared-anchor candidates (FAISS ids of the other graph, ``-1``
    past the stored ones, ``-2`` one without an id; no column without them). A row may hold
    anchor candidates and no list (``lengths[i]`` 0)."""

    keys: list[str]
    bounds: np.ndarray  # float64 (n,)
    lengths: np.ndarray  # int64 (n,)
    ids: np.ndarray  # int64 (sum of lengths,)
    scores: np.ndarray  # float32 (sum of lengths,)
    cells: np.ndarray  # int32 (n, c)
    anchors: np.ndarray  # int64 (n, a)


@dataclass
class PairBlock:
    """Every stored pair row, columnar: left ``keys[i]``'s ``lengths[i]`` pairs (FAISS ids of
    graph B and scores), the rows' pairs concatenated."""

    keys: list[str]
    lengths: np.ndarray  # int64 (n,)
    rights: np.ndarray  # int64
    scores: np.ndarray  # float32


def _entries(buf: np.ndarray, starts: np.ndarray, size: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's entry count and all rows' ids and scores, the rows' ``size`` bytes from
    ``starts`` holding ids (``<i8``) then scores (``<f4``)."""
    if (size % 12).any():
        raise CorruptValueError("a candidate row's entries are not 12 bytes each")
    count = size // 12
    return (count, blocks.ragged(buf, starts, count, _IDS),
            blocks.ragged(buf, starts + 8 * count, count, _SCORES))


def _list_block(keys: list[str], values: list[bytes], with_anchors: bool = True) -> ListBlock:
    """Decode every list row at once (``_list_heads``' layout, then the entries;
    ``with_anchors`` False: the layout before decision 0089, no anchor column)."""
    buf, starts, lengths = blocks.joined(values)
    if (lengths < 12).any():
        raise CorruptValueError("a candidate list row shorter than its head")
    bounds = blocks.column(buf, starts, _BOUND)
    count = blocks.column(buf, starts + 8, _CELLS).astype(np.int64)
    if (count < 0).any() or (12 + 4 * count > lengths).any():
        raise CorruptValueError("a candidate list row's cells overrun it")
    cells = np.full((len(values), int(count.max(initial=0))), -1, dtype=_CELLS)
    filled = np.arange(cells.shape[1]) < count[:, None]
    cells[filled] = blocks.ragged(buf, starts + 12, count, _CELLS)
    head = 12 + 4 * count
    if not with_anchors:
        sizes, ids, scores = _entries(buf, starts + head, lengths - head)
        return ListBlock(keys, bounds, sizes, ids, scores, cells,
                         np.full((len(values), 0), -1, dtype=_IDS))
    if (head + 4 > lengths).any():
        raise CorruptValueError("a candidate list row without its anchor count")
    held = blocks.column(buf, starts + head, _CELLS).astype(np.int64)
    if (held < 0).any() or (head + 4 + 8 * held > lengths).any():
        raise CorruptValueError("a candidate list row's anchor candidates overrun it")
    anchors = np.full((len(values), int(held.max(initial=0))), -1, dtype=_IDS)
    anchors[np.arange(anchors.shape[1]) < held[:, None]] = blocks.ragged(
        buf, starts + head + 4, held, _IDS)
    head = head + 4 + 8 * held
    sizes, ids, scores = _entries(buf, starts + head, lengths - head)
    return ListBlock(keys, bounds, sizes, ids, scores, cells, anchors)


class CandidateStore:
    """Candidate-list and pair-score reads and writes inside one transaction."""

    def __init__(self, kv: PendingWrites, settings: StoreSettings) -> None:
        self._kv = kv
        self._settings = settings

    def put_lists(self, graph: str, entity_ids: list[str], bounds: np.ndarray,
                  ids: np.ndarray, scores: np.ndarray, cells: np.ndarray | None = None,
                  anchors: np.ndarray | None = None, legacy: bool = False) -> None:
        """Store entities' lists: row ``i`` is ``entity_ids[i]``'s bound and members (FAISS ids
        of the other graph, best first: the ids ``>= 0`` of ``ids[i]``, in order) with their
        scores, ``cells[i]`` (IVF: the owner's own cell and its list's probed cells, which
        a restore would otherwise search for, decision 0067) and ``anchors[i]`` (its
        shared-anchor candidates, FAISS ids, ``-1`` past the last; decision 0089); a row with
        no member and no anchor candidate deletes the entity's row (``legacy``: the layout
        before decision 0089, as an upgrade finds it — tests). The values are encoded
        ``ENCODE_ROWS`` rows at once, not per row (a small batch changes tens of thousands of
        lists) and not all at once (a bulk refresh changes every list)."""
        self._settings.check_graph(graph)
        prefix = pack(graph)
        if anchors is None:
            anchors = np.full((len(entity_ids), 0), -1, dtype=_IDS)
        for lo in range(0, len(entity_ids), ENCODE_ROWS):
            part = slice(lo, lo + ENCODE_ROWS)
            keep = np.asarray(ids[part]) >= 0
            held = np.asarray(anchors[part])
            heads, taken = _list_heads(np.asarray(bounds)[part],
                                       None if cells is None else np.asarray(cells)[part],
                                       None if legacy else held)
            values = _encode_rows(ids[part], scores[part], keep, heads, taken)
            stays = (keep.any(axis=1) | (not legacy and (held != -1).any(axis=1))).tolist()
            self._kv.put_rows(Table.CANDIDATES,
                              [prefix + component(entity_id) for entity_id in entity_ids[part]],
                              [value if kept else None for value, kept in
                               zip(values, stays, strict=True)])

    def list_block(self, graph: str, anchors: bool = True) -> ListBlock:
        """Every stored list of ``graph``, in key order, decoded at once (``anchors`` False:
        rows written before decision 0089)."""
        self._settings.check_graph(graph)
        prefix = pack(graph)
        rows = list(self._kv.scan(Table.CANDIDATES, prefix))
        keys = blocks.key_texts([key for key, _ in rows], len(prefix))
        return _list_block(keys, [value for _, value in rows], anchors)

    def lists(self, graph: str) -> Iterator[tuple[str, float, np.ndarray, np.ndarray]]:
        """Every ``(entity, bound, member ids, scores)`` of ``graph``, in key order."""
        block = self.list_block(graph)
        ends = np.cumsum(block.lengths).tolist()
        for i, (key, hi) in enumerate(zip(block.keys, ends, strict=True)):
            lo = hi - int(block.lengths[i])
            if hi > lo:  # a row of anchor candidates alone is no list
                yield key, float(block.bounds[i]), block.ids[lo:hi], block.scores[lo:hi]

    def put_pair_rows(self, lefts: list[str], offsets: np.ndarray, rights: np.ndarray,
                      scores: np.ndarray) -> None:
        """Store every scored pair of left entities (CSR: ``lefts[i]``'s pairs are the FAISS
        ids ``>= 0`` of the right graph among ``rights[offsets[i]:offsets[i + 1]]``, with their
        scores); a row with none deletes the entity's pairs."""
        keep = np.asarray(rights) >= 0
        kept = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])[np.asarray(offsets)]
        id_bytes = np.asarray(rights)[keep].astype(_IDS).tobytes()
        score_bytes = np.asarray(scores)[keep].astype(_SCORES).tobytes()
        self._kv.put_rows(Table.PAIR_SCORE, [component(left) for left in lefts], [
            id_bytes[8 * lo:8 * hi] + score_bytes[4 * lo:4 * hi] if hi > lo else None
            for lo, hi in zip(kept[:-1].tolist(), kept[1:].tolist(), strict=True)])

    def pair_block(self) -> PairBlock:
        """Every stored pair row, in key order, decoded at once."""
        rows = list(self._kv.scan(Table.PAIR_SCORE))
        keys = blocks.key_texts([key for key, _ in rows], 0)
        buf, starts, lengths = blocks.joined([value for _, value in rows])
        return PairBlock(keys, *_entries(buf, starts, lengths))

    def pairs(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Every ``(left, right ids, scores)``, in key order."""
        block = self.pair_block()
        ends = np.cumsum(block.lengths).tolist()
        for i, (key, hi) in enumerate(zip(block.keys, ends, strict=True)):
            lo = hi - int(block.lengths[i])
            yield key, block.rights[lo:hi], block.scores[lo:hi]

    def state(self) -> str | None:
        """What the stored rows are (``engine.candidate_state``); None: never written."""
        value = self._kv.get(Table.META, STATE)
        return None if value is None else value.decode()

    def set_state(self, state: str) -> None:
        self._kv.put(Table.META, STATE, state.encode())

    def clear(self) -> None:
        """Delete every stored list and pair score (before an engine rewrites all of them)."""
        self._kv.clear(Table.CANDIDATES)
        self._kv.clear(Table.PAIR_SCORE)

    def keep_before(self, graph: str | None, entity_ids: list[str]) -> None:
        """Keep the stored rows of ``entity_ids`` — lists of ``graph``, pair rows where None —
        as they are before a row slice overwrites them (``undo_some`` puts them back)."""
        tag, table, prefix = ((_KEPT_PAIR, Table.PAIR_SCORE, b"") if graph is None
                              else (_KEPT_LIST, Table.CANDIDATES, pack(graph)))
        keys = [prefix + component(entity_id) for entity_id in entity_ids]
        self._kv.put_rows(Table.KEPT, [tag + key for key in keys], [  # b"": there was none
            b"" if old is None else old for old in self._kv.get_many(table, keys)])

    def keep_state_before(self, state: str) -> None:
        """Keep the stored state a row slice marks not current (``undo_some`` puts it back)."""
        self._kv.put(Table.KEPT, _KEPT_STATE, state.encode())

    def undo_some(self, limit: int) -> int:
        """Put back up to ``limit`` kept rows, no longer kept; return how many. Where none
        are left, the kept state is put back and nothing is kept any more."""
        rows = list(islice(((key, value) for key, value in self._kv.scan(Table.KEPT)
                            if key != _KEPT_STATE), limit))
        for key, value in rows:
            table = _KEPT_TABLES[key[0]]
            if value:  # a stored row is never empty (a list's head, a pair's entries)
                self._kv.put(table, key[1:], value)
            else:
                self._kv.delete(table, key[1:])
            self._kv.delete(Table.KEPT, key)
        if not rows:
            if (state := self._kv.get(Table.KEPT, _KEPT_STATE)) is not None:
                self.set_state(state.decode())
            self.drop_kept()
        return len(rows)

    def drop_kept(self) -> None:
        """Forget the kept rows (the batch that overwrote them committed)."""
        self._kv.clear(Table.KEPT)
