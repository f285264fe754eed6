"""Candidate lists and pair scores as stored state: out with each delta, back on restore.

A restore used to rebuild every list and re-score every candidate pair from the stored
vectors — a batch alignment, most of a restore's time and quadratic in the graphs (decision
0033). Instead each ``process`` call's delta carries the list rows and the
left entities' pair rows it changed (``ListTable.take_changed``, ``PairBook.take_changed``: a
few rows per insert), members named by FAISS id, so the stored rows always equal the
committing engine's tables.

They are also *current* only when the engine held no work (``held``): while a bulk drain holds
lists and decisions back, the stored vectors are ahead of the stored lists and the held set is
not stored. The delta says which (``state``: the fingerprint of the model version and list
settings the rows were built under, or ``""`` while work is held); a restore reads the rows
when the stored state is its own fingerprint and otherwise rebuilds as before and rewrites all
rows (``StateDelta.candidates_reset``).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from stream_align import setops
from stream_align.arrays import lookup
from stream_align.engine import ivf_lists
from stream_align.engine.anchor_heads import AnchorHeads
from stream_align.engine.delta import ListRows, PairScoreRows, RowParts, StateDelta
from stream_align.engine.errors import EngineError
from stream_align.engine.pair_book import PairBook
from stream_align.engine.progress import Progress, no_progress
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import Side
from stream_align.engine.side_pair import Both, serial
from stream_align.engine.state_source import ListRowsRead, StateSource


class StoredCandidatesError(EngineError):
    """Stored candidate rows name a FAISS id no stored embedding has (a store not written by
    this engine's deltas)."""


IVF_LISTS = "lists=3"
"""The IVF lists' maintenance version: until decision 0044 a list set while the other graph
had no vector registered no cells and stayed empty, and until decision 0080 the cells were
trained from the stream (a store's cells need not be its model's), so IVF rows stored before
may be stale: a store naming another version is rebuilt once on restore."""

ROWS = "rows=3"
"""The stored rows' format: since decision 0067 a list row carries its owner's IVF cells, since
decision 0089 its shared-anchor candidates (``store.candidate_store``); rows of an earlier
format are rebuilt once on restore — but those of ``LEGACY_ROWS`` are read (their lists),
the anchor candidates recomputed and every row written again with the next delta."""
LEGACY_ROWS = "rows=2"
"""The format before decision 0089: the rows without their anchor candidates."""


def fingerprint(model_version: str, settings: EngineSettings, rows: str = ROWS) -> str:
    """What stored lists and scores depend on besides the stored vectors and labels
    (``rows``: the rows' format)."""
    ivf = settings.candidate_index == "ivf"
    return (f"{model_version}|top_k={settings.top_k}|reserve={settings.candidate_reserve}"
            f"|{settings.candidate_index}|cells={settings.ivf_cells}|probe={settings.ivf_probe}"
            f"|csls={settings.csls_k}"
            + (f"|anchors={settings.anchor_candidates}/{settings.anchor_fanout}"
               if settings.anchor_candidates else "")
            + ("|fp16" if ivf and settings.ivf_float16 else "")
            + (f"|{IVF_LISTS}" if ivf else "") + f"|{rows}")


def _fids(side: Side, nodes: np.ndarray) -> np.ndarray:
    """FAISS ids of ``nodes`` (-1 where a node has none: only while work is held)."""
    return side.faiss_ids(nodes)  # one array lookup, not a dict read per member


def changed_rows(delta: StateDelta, sides: tuple[Side, Side], book: PairBook,
                 anchors: AnchorHeads | None = None) -> None:
    """Put the list and pair rows changed since the last call into ``delta``: a list row
    also where only its owner's IVF cells moved (the row carries them, decision 0067) or
    its shared-anchor candidates (decision 0089). Only which rows is taken now; the rows
    are built a part at a time as they are written (``RowParts``, decision 0097)."""
    for s, side in enumerate(sides):
        nodes = np.asarray(side.lists.take_changed(), dtype=np.int64)
        nodes = setops.union1d(nodes, side.take_cells_changed())
        if anchors is not None:
            nodes = setops.union1d(nodes, anchors.take_changed(s))
        if len(nodes):
            delta.lists[side.graph.graph_id] = RowParts(
                len(nodes), partial(_list_rows, sides, s, nodes, anchors))
    lefts = book.take_changed()
    if lefts:
        delta.pair_scores = RowParts(len(lefts), partial(_pair_rows, sides, book, lefts))


def _list_rows(sides: tuple[Side, Side], s: int, changed: np.ndarray,
               anchors: AnchorHeads | None, lo: int, hi: int) -> ListRows:
    """Side ``s``'s list rows of ``changed[lo:hi]``, members as the other side's FAISS ids."""
    side, nodes = sides[s], changed[lo:hi]
    members, scores, lengths = side.lists.rows(nodes)
    ids = np.full(members.shape, -1, dtype=np.int64)
    listed = np.arange(members.shape[1])[None, :] < lengths[:, None]
    ids[listed] = _fids(sides[1 - s], members[listed])
    return ListRows(keys=side.graph.keys.take(nodes), bounds=side.bounds(nodes),
                    members=ids, scores=scores, cells=side.cell_rows(nodes) if side.ivf else None,
                    anchors=None if anchors is None else _anchor_ids(sides[1 - s],
                                                                     anchors.rows(s, nodes)))


def _pair_rows(sides: tuple[Side, Side], book: PairBook, changed: list[int], lo: int,
               hi: int) -> PairScoreRows:
    """The pair rows of the left entities ``changed[lo:hi]``."""
    lefts = changed[lo:hi]
    offsets, rights, scores = book.rows(lefts)
    return PairScoreRows(keys=sides[0].graph.keys.take(lefts), offsets=offsets,
                         rights=_fids(sides[1], rights), scores=scores.astype(np.float32))


def _anchor_ids(other: Side, heads: np.ndarray) -> np.ndarray:
    """Rows of shared-anchor candidates as FAISS ids of the other side: ``-1`` past each
    row's last, ``-2`` a member without one (only while work is held; the restore
    recomputes such a row)."""
    ids = np.full(heads.shape, -1, dtype=np.int64)
    held = heads >= 0
    named = _fids(other, heads[held])
    ids[held] = np.where(named >= 0, named, -2)
    return ids


def _nodes_of(side: Side, ids: np.ndarray) -> np.ndarray:
    found = side.nodes_named(ids)
    if (found < 0).any():
        bad = int(ids[np.flatnonzero(found < 0)[0]])
        raise StoredCandidatesError(f"stored candidates of graph {side.graph.graph_id} name "
                                    f"FAISS id {bad}, which no stored embedding has")
    return found


class StoredLists:
    """Both sides' stored list rows, read before the vectors (their IVF cells place the
    vectors, decision 0067) and loaded after them (members are named by FAISS id)."""

    def __init__(self, source: StateSource, sides: tuple[Side, Side],
                 progress: Progress = no_progress, both: Both = serial,
                 anchored: bool = True) -> None:
        """``anchored`` False: rows of ``LEGACY_ROWS``, without anchor candidates. Each
        part below beats ``progress`` from the thread that runs it (decision 0089: the
        restore's silences are its longest parts, a liveness probe's timeout bounds them)."""
        self.anchored, self.progress = anchored, progress

        def read(s: int) -> tuple[ListRowsRead, np.ndarray]:
            side = sides[s]
            progress(f"restore {side.graph.label}: candidate lists", 0, 1)
            block = source.candidate_lists(side.graph.graph_id, anchored)
            return block, _known(side.graph.index.nodes_of(block.keys), block.keys)

        read_both = both(read)
        self.blocks: list[ListRowsRead] = [read_both[0][0], read_both[1][0]]
        self.nodes: list[np.ndarray] = [read_both[0][1], read_both[1][1]]
        self.listed = [block.lengths > 0 for block in self.blocks]  # else anchor rows alone

    def own_cells(self, s: int) -> np.ndarray:
        """Side ``s``'s stored IVF cell of each node (``-1``: none stored), by node."""
        nodes, cells = self.nodes[s][self.listed[s]], self.blocks[s].cells[self.listed[s]]
        out = np.full(int(nodes.max(initial=-1)) + 1, -1, dtype=np.int64)
        if cells.shape[1]:
            out[nodes] = cells[:, 0]
        return out

    def probed(self, s: int) -> tuple[np.ndarray, np.ndarray]:
        """Side ``s``'s nodes with stored probed cells, and those cells."""
        listed = self.listed[s]
        nodes, cells = self.nodes[s][listed], self.blocks[s].cells[listed, 1:]
        stored = (cells >= 0).any(axis=1)
        return nodes[stored], cells[stored]

    def register(self, sides: tuple[Side, Side], s: int) -> None:
        """IVF: side ``s``'s indexed nodes registered under the cells their read lists probe
        (a node without stored cells is probed, and marked to be stored with the next delta);
        nothing to write back for the vectors placed as stored."""
        side = sides[s]
        self.progress(f"restore {side.graph.label}: probed cells", 0, 1)
        indexed = side.indexed()
        side.take_cells_changed()
        if side.probers is not None:
            side.mark_cells(indexed[lookup(self.own_cells(s), indexed, -1) < 0])
            ivf_lists.register(side, sides[1 - s], indexed, self.probed(s))

    def load(self, sides: tuple[Side, Side], book: PairBook, source: StateSource, top_k: int,
             progress: Progress = no_progress, both: Both = serial) -> None:
        """Both sides' lists (``both`` may load them at once: a side's lists read the other
        side's FAISS ids only) and every pair score (FAISS ids mapped to nodes at once)."""
        both(lambda s: self._load_side(sides, s, top_k))
        progress("restore: pair scores", 0, 1)
        pairs = source.pair_scores()
        if pairs.keys:
            left_index = sides[0].graph.index
            lefts = np.repeat(_known(left_index.nodes_of(pairs.keys), pairs.keys), pairs.lengths)
            book.load(lefts, _nodes_of(sides[1], pairs.rights), pairs.scores)

    def restore_anchors(self, sides: tuple[Side, Side], anchors: AnchorHeads,
                        both: Both = serial) -> None:
        """Shared-anchor candidates read with the lists (decision 0089); rows stored before
        it (not ``anchored``): recomputed, and every row written again with the next delta."""
        if self.anchored:
            for side in sides:
                side.samples.take_notes()
            both(lambda s: self.load_anchors(sides, anchors, s))
            return
        anchors.rebuild(both)
        for s, side in enumerate(sides):
            anchors.mark(s, np.asarray(side.graph.alive_indices(), dtype=np.int64))

    def load_anchors(self, sides: tuple[Side, Side], anchors: AnchorHeads, s: int) -> None:
        """Side ``s``'s stored shared-anchor candidates into ``anchors`` (after the vectors:
        members are named by FAISS id); a row with a member stored without an id, or with
        one no indexed vector has, is recomputed from the samples instead (exact either way:
        a row is a function of the samples)."""
        ids, nodes = self.blocks[s].anchors, self.nodes[s]
        self.progress(f"restore {sides[s].graph.label}: anchor candidates", 0, 1)
        heads = np.full(ids.shape, -1, dtype=np.int64)
        held = ids >= 0
        heads[held] = sides[1 - s].nodes_named(ids[held])
        redo = ((ids != -1) & (heads < 0)).any(axis=1)
        alive = sides[s].graph.alive_indices()
        anchors.load(s, nodes[~redo], heads[~redo], alive[-1] + 1 if alive else 0)
        anchors.recompute(s, nodes[redo])

    def _load_side(self, sides: tuple[Side, Side], s: int, top_k: int) -> None:
        """Side ``s``'s stored rows into its list table, members as nodes of the other side
        (rows of anchor candidates alone hold no list)."""
        block, listed = self.blocks[s], self.listed[s]
        self.progress(f"restore {sides[s].graph.label}: lists", 0, 1)
        nodes, lengths = self.nodes[s][listed], block.lengths[listed]
        width = int(lengths.max(initial=0))
        filled = np.arange(width) < lengths[:, None]  # row-major: the rows' order
        members = np.full((len(nodes), width), -1, dtype=np.int32)
        scores = np.zeros((len(nodes), width), dtype=np.float32)
        members[filled] = _nodes_of(sides[1 - s], block.ids)
        scores[filled] = block.scores
        sides[s].load_lists(nodes, members, scores, block.bounds[listed], top_k)


def stored_lists(source: StateSource, sides: tuple[Side, Side], state: str | None,
                 version: str, settings: EngineSettings, progress: Progress = no_progress,
                 both: Both = serial) -> StoredLists | None:
    """The stored rows where ``state`` says they are current for this model and these
    settings: of this format, or of ``LEGACY_ROWS`` (lists read, anchor candidates
    recomputed and every row written again with the next delta, whose state names this
    format); None: rebuild them."""
    if state == fingerprint(version, settings):
        return StoredLists(source, sides, progress, both)
    if state == fingerprint(version, settings, LEGACY_ROWS):
        return StoredLists(source, sides, progress, both, anchored=False)
    return None


def _known(nodes: np.ndarray, keys: list[str]) -> np.ndarray:
    """``nodes``, the mirror's node of each stored row's key; a row of an entity the mirror
    lacks is a corrupt store (``KeyError`` naming the first such key)."""
    if len(missing := np.flatnonzero(nodes < 0)):
        raise KeyError(keys[int(missing[0])])
    return nodes
