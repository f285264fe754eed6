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

import numpy as np

from stream_align.engine.delta import ListRows, PairScoreRows, StateDelta
from stream_align.engine.errors import EngineError
from stream_align.engine.pair_book import PairBook
from stream_align.engine.progress import Progress, counted, no_progress
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import Side
from stream_align.engine.state_source import StateSource


class StoredCandidatesError(EngineError):
    """Stored candidate rows name a FAISS id no stored embedding has (a store not written by
    this engine's deltas)."""


IVF_LISTS = "lists=2"
"""The IVF lists' maintenance version: until decision 0044 a list set while the other graph
had no vector registered no cells and stayed empty, so IVF rows stored before it may be stale:
a store naming another version is rebuilt once on restore."""


def fingerprint(model_version: str, settings: EngineSettings) -> str:
    """What stored lists and scores depend on besides the stored vectors and labels."""
    ivf = settings.candidate_index == "ivf"
    return (f"{model_version}|top_k={settings.top_k}|reserve={settings.candidate_reserve}"
            f"|{settings.candidate_index}|cells={settings.ivf_cells}|probe={settings.ivf_probe}"
            f"|csls={settings.csls_k}"
            + (f"|anchors={settings.anchor_candidates}/{settings.anchor_fanout}"
               if settings.anchor_candidates else "")
            + ("|fp16" if ivf and settings.ivf_float16 else "")
            + (f"|{IVF_LISTS}" if ivf else ""))


def _fids(side: Side, nodes: np.ndarray) -> np.ndarray:
    """FAISS ids of ``nodes`` (-1 where a node has none: only while work is held)."""
    return side.faiss_ids(nodes)  # one array lookup, not a dict read per member


def changed_rows(delta: StateDelta, sides: tuple[Side, Side], book: PairBook) -> None:
    """Put the list and pair rows changed since the last call into ``delta``."""
    for s, side in enumerate(sides):
        nodes = side.lists.take_changed()
        if not nodes:
            continue
        members, scores, lengths = side.lists.rows(np.asarray(nodes, dtype=np.int64))
        ids = np.full(members.shape, -1, dtype=np.int64)
        listed = np.arange(members.shape[1])[None, :] < lengths[:, None]
        ids[listed] = _fids(sides[1 - s], members[listed])
        delta.lists[side.graph.graph_id] = ListRows(
            keys=[side.graph.keys[n] for n in nodes],
            bounds=side.bounds(np.asarray(nodes, dtype=np.int64)), members=ids, scores=scores)
    lefts = book.take_changed()
    if lefts:
        offsets, rights, scores = book.rows(lefts)
        delta.pair_scores = PairScoreRows(
            keys=[sides[0].graph.keys[u] for u in lefts], offsets=offsets,
            rights=_fids(sides[1], rights), scores=scores.astype(np.float32))


def _nodes_of(side: Side, ids: np.ndarray) -> np.ndarray:
    found = side.nodes_named(ids)
    if (found < 0).any():
        bad = int(ids[np.flatnonzero(found < 0)[0]])
        raise StoredCandidatesError(f"stored candidates of graph {side.graph.graph_id} name "
                                    f"FAISS id {bad}, which no stored embedding has")
    return found


def load(source: StateSource, sides: tuple[Side, Side], book: PairBook, top_k: int,
         progress: Progress = no_progress) -> None:
    """Both sides' lists and every pair score from the stored rows (restore): the FAISS ids of
    all rows mapped to nodes at once, not a lookup per row."""
    for s, side in enumerate(sides):
        other, index = sides[1 - s], side.graph.index
        rows = list(counted(source.candidate_lists(side.graph.graph_id), progress,
                            f"restore {side.graph.label}: candidate lists"))
        lengths = np.fromiter((len(ids) for _, _, ids, _ in rows), dtype=np.int64,
                              count=len(rows))
        width = int(lengths.max(initial=0))
        filled = np.arange(width) < lengths[:, None]  # row-major: the rows' order
        members = np.full((len(rows), width), -1, dtype=np.int32)
        scores = np.zeros((len(rows), width), dtype=np.float32)
        if filled.any():
            members[filled] = _nodes_of(other, np.concatenate([r[2] for r in rows]))
            scores[filled] = np.concatenate([r[3] for r in rows])
        nodes = np.fromiter((index[key] for key, *_ in rows), dtype=np.int64, count=len(rows))
        bounds = np.fromiter((bound for _, bound, *_ in rows), dtype=np.float64,
                             count=len(rows))
        side.load_lists(nodes, members, scores, bounds, top_k)
    keys, rights, values = [], [], []
    for key, ids, row_scores in counted(source.pair_scores(), progress, "restore: pair scores"):
        keys.append(key)
        rights.append(ids)
        values.append(row_scores)
    if keys:
        left_index = sides[0].graph.index
        lefts = np.repeat(np.fromiter((left_index[k] for k in keys), dtype=np.int64,
                                      count=len(keys)),
                          np.fromiter((len(r) for r in rights), dtype=np.int64, count=len(keys)))
        book.load(lefts, _nodes_of(sides[1], np.concatenate(rights)), np.concatenate(values))
