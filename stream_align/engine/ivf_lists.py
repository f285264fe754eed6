"""Candidate lists on IVF cells: what a changed vector is checked against, and full rebuilds.

In IVF mode (``candidate_index = "ivf"``, decision 0012) a list is defined as an IVF search on
the frozen quantiser's cells: entity ``x``'s list holds the best ``R`` of the other graph's
vectors that sit in the ``nprobe`` cells ``x``'s own vector probes. Streamed lists stay equal to
that search (not to an exact one) because the cells a list probes move only with its owner's
vector and the cell of a vector moves only with that vector:

- a recomputed entity re-probes (its cells are re-registered in ``Side.probers``) and its own
  list is one IVF search on the registered cells;
- a changed vector ``y`` in cell ``c`` can enter or stay only in lists that probe ``c``
  (``probers.of(c)``): it is scored against those owners' vectors and enters where it reaches
  the list's bound; a list holding ``y`` that does not probe ``c`` any more drops it.

The cost per changed vector is one search over ``nprobe`` cells plus the owners probing its
cell — about ``n · nprobe / nlist`` products each, against ``n`` for the exact scan.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from stream_align import setops
from stream_align.arrays import grown
from stream_align.engine.list_repair import Found, FreshRows
from stream_align.engine.progress import Progress, chunks, no_progress
from stream_align.engine.settings import EngineSettings
from stream_align.engine.side import Side
from stream_align.engine.threads import blas_on_one_thread, torch_on_one_thread
from stream_align.index import IvfVectorIndex
from stream_align.index.ivf_index import as_float32
from stream_align.model.errors import ModelError

CHUNK = 8192
"""Entities searched per FAISS call in a full rebuild (bounded query memory)."""
SCAN_BYTES = 1 << 29
"""Bytes of stored vectors ``scan`` holds at a time (512 MiB: a whole side of 1M entities as
half floats at 256 dimensions): the distinct list owners a batch's cells reach are read once a
batch up to that many, where they were read once per probed cell — ``nprobe`` times (decision
0054). Held in the codes' own type and widened a cell's block at a time by one vectorised pass
(``ivf_index.widened``, decision 0125). A call of the steady tail reaches nearly every cell,
so its owners are nearly the whole side: under a bound of 131,072 owners (64 MB) a side above
it was read in chunks, each an owner read by id, ≈ ``n · nprobe`` reads a call — the part of
the lists stage that grew past linearly with the graph (decision 0131)."""
LIST_SHARE = 0.1
"""Share of the vectors in the lists holding a scan's owners from which ``scan`` copies those
lists whole (``IvfVectorIndex.stored_lists``: one contiguous copy a list, ≈ 0.1–0.25 µs a
listed vector) rather than reading the owners by id (a sort by cell and a gather per list,
≈ 1 µs an owner): the lists the batch's cells reach, not the side (decision 0125)."""


def check_ladder(ladder: dict[int, np.ndarray], settings: EngineSettings, version: str) -> None:
    """Refuse IVF lists with a model that carries no quantiser (an artifact trained before
    decision 0080: cells trained from the stream made the state depend on its batches) or
    without the cell count ``ivf_cells`` asks for: one line, at start-up."""
    if settings.candidate_index != "ivf":
        return
    if not ladder:
        raise ModelError(f"model {version} carries no IVF quantiser (trained before decision "
                         "0080): train it again with `stream-align train` to use "
                         "engine.candidate_index = ivf, or use candidate_index = flat")
    if settings.ivf_cells and settings.ivf_cells not in ladder:
        raise ModelError(f"engine.ivf_cells = {settings.ivf_cells} is not one of model "
                         f"{version}'s IVF cell counts {sorted(ladder)} (0: follow the graphs)")


def use_rung(sides: tuple[Side, Side], centroids: np.ndarray, nprobe: int, float16: bool
             ) -> np.ndarray:
    """Move both sides' vectors into the cells of ``centroids`` (a rung of the model's ladder,
    decision 0080): from the flat indexes the first time, from the IVF indexes when the graphs
    outgrew the rung (decision 0068). Returns the centroids (stored: which rung)."""
    for side in sides:
        side.use_ivf(centroids, nprobe, float16)
    return centroids


def search_own(mine: Side, other: Side, nodes: np.ndarray, depth: int,
               progress: Progress = no_progress) -> Found:
    """``nodes``' lists from IVF searches of the other side; their probed cells registered —
    also while the other side has no vector yet (its lists are then empty): the cells a list
    probes depend on its owner's vector alone, and the other side's vectors arriving later
    enter exactly the lists registered on their cells (``scan``). Registering none there left
    such lists empty for good — at a large load, whose queue recomputes graph A before B and
    trains the quantiser on A alone, most of A's lists — until a restore registered them and
    its first batch did all the missed work at once (decision 0044)."""
    out = list(searched_parts(mine, other, nodes, depth, progress))
    return Found.concat(out) if out else Found.empty(nodes, depth)


def searched_parts(mine: Side, other: Side, nodes: np.ndarray, depth: int,
                   progress: Progress = no_progress) -> Iterator[Found]:
    """:func:`search_own` a :data:`CHUNK` of ``nodes`` at a time, each chunk's lists as it is
    searched: a rebuild sets them before the next chunk's search, so no side's whole
    :class:`Found` (≈ 0.26 KB an owner, twice with its concatenation) nor one table write of
    every list (≈ 2 KB an owner more) is held at once — ≈ 2.3 GB at 1M a side (decision
    0133). A chunk's search reads the other side's index and this side's vectors and
    probers, never this side's lists, so the lists come out the same."""
    for start in chunks(range(0, len(nodes), CHUNK), progress, "candidate lists"):
        part = nodes[start:start + CHUNK]
        vectors = mine.vectors(part.tolist())
        cells = _probed(mine, other, part, vectors)
        yield Found.searched(part, *other.search(vectors, depth, cells), depth)


def register(mine: Side, other: Side, nodes: np.ndarray,
             stored: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Register ``nodes``' (ascending) probed cells without searching: their lists were read
    from the store (decision 0033), and a changed vector is scanned only against the lists
    probing its cell (``scan``). ``stored``: nodes and the probed cells their stored rows
    carry, registered as stored; only the others are probed — ``nlist`` centroid products a
    node, the restore's largest cost at 1M entities a side (decision 0067)."""
    assert mine.probers is not None
    known, cells = _stored_probes(nodes, stored, mine.probers.nprobe)
    for start in range(0, len(nodes), CHUNK):
        part, have = nodes[start:start + CHUNK], known[start:start + CHUNK]
        if not have.all():
            probe = part[~have]
            assert isinstance(other.index, IvfVectorIndex)
            cells[start:start + CHUNK][~have] = other.index.probe(
                mine.vectors(probe.tolist()))[1]
            mine.mark_cells(probe)  # not stored: the next delta stores them
        mine.probers.set(part.tolist(), cells[start:start + CHUNK])


def _stored_probes(nodes: np.ndarray, stored: tuple[np.ndarray, np.ndarray] | None,
                   nprobe: int) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``nodes`` have stored probes, and a ``(len(nodes), nprobe)`` table of them."""
    known = np.zeros(len(nodes), dtype=bool)
    cells = np.full((len(nodes), nprobe), -1, dtype=np.int64)
    if stored is None or not len(nodes) or stored[1].shape[1] != nprobe:
        return known, cells
    at = np.searchsorted(nodes, stored[0])
    inside = at < len(nodes)
    inside[inside] = nodes[at[inside]] == stored[0][inside]
    known[at[inside]] = True
    cells[at[inside]] = stored[1][inside]
    return known, cells


def _probed(mine: Side, other: Side, nodes: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The cells of the other side's index that ``vectors`` (of ``nodes``) probe, registered
    as ``nodes``' cells."""
    assert mine.probers is not None and isinstance(other.index, IvfVectorIndex)
    _, cells = other.index.probe(vectors)
    moved = (mine.probers.rows(nodes) != cells).any(axis=1)
    mine.probers.set(nodes.tolist(), cells)
    mine.mark_cells(nodes[moved])  # their list rows carry the cells (decision 0067)
    return cells


def research(mine: Side, other: Side, nodes: np.ndarray, depth: int) -> Found:
    """Lists searched again on the cells their owners registered (no new probe: the same
    cells the rest of the engine reasons with), a chunk of queries at a time (a fill searches
    most of a side's lists again, decision 0044)."""
    assert mine.probers is not None
    parts = [Found.searched(part, *other.search(mine.vectors(part.tolist()), depth,
                                                mine.probers.rows(part)), depth)
             for part in (nodes[start:start + CHUNK] for start in range(0, len(nodes), CHUNK))]
    return Found.concat(parts) if parts else Found.empty(nodes, depth)


def scan(mine: Side, other: Side, nodes: np.ndarray, fresh: FreshRows) -> None:
    """Changed vectors of ``mine`` against the lists of ``other`` that probe their cells: new
    scores where they reach the bound or are already listed; ``NaN`` where a list holding one
    no longer probes its cell; lists with bound ``-inf`` to search again (``FreshRows.short``).

    Cell by cell, each owner's stored vector read once per :data:`SCAN_BYTES` of codes (not
    once per probed cell: an owner probes ``nprobe`` cells, and a drain batch's changed vectors
    reach nearly all of them), and the listed pairs split by cell once (not a membership test
    of all of them per cell) — decision 0054."""
    if not len(nodes) or other.probers is None or not isinstance(mine.index, IvfVectorIndex):
        return
    # one small product per cell (decision 0075); the widenings on one thread (decision 0125)
    with blas_on_one_thread(), torch_on_one_thread():
        _scan(mine, other, nodes, fresh)


def _scan(mine: Side, other: Side, nodes: np.ndarray, fresh: FreshRows) -> None:
    """``scan`` of ``nodes`` (with vectors, ``mine`` and ``other`` on IVF)."""
    assert other.probers is not None and isinstance(mine.index, IvfVectorIndex)
    vectors = mine.vectors(nodes.tolist())
    cells = mine.index.cells_of(mine.faiss_ids(nodes))
    listing, listed = other.listed_by.of(nodes)  # (index into nodes, list owner)
    by_cell = np.argsort(cells, kind="stable")
    firsts, starts, counts = np.unique(cells[by_cell], return_index=True, return_counts=True)
    listed_order = np.argsort(cells[listing], kind="stable")
    listings = listing, listed, listed_order, cells[listing][listed_order]
    batch: list[tuple[int, np.ndarray, np.ndarray]] = []
    seen, held = np.zeros(0, dtype=bool), 0  # distinct owners of the batch
    limit = _owners_within(other)
    for cell, lo, k in zip(firsts.tolist(), starts.tolist(), counts.tolist(), strict=True):
        owners = np.sort(other.probers.of(cell))
        seen = grown(seen, int(owners.max(initial=-1)) + 1, False)
        held += int(np.count_nonzero(~seen[owners]))
        seen[owners] = True
        batch.append((cell, by_cell[lo:lo + k], owners))
        if held >= limit:
            _scan_cells(other, nodes, vectors, batch, listings, fresh)
            batch, held = [], 0
            seen[:] = False
    _scan_cells(other, nodes, vectors, batch, listings, fresh)


def _stored(side: Side, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stored vectors of ``nodes`` in the codes' own type, read from the lists' codes, and
    the row of each node in them. Where ``nodes`` are at least :data:`LIST_SHARE` of the
    vectors in their lists, those lists are copied whole — the same bits at less CPU
    (decisions 0120, 0125) — within :data:`SCAN_BYTES` of codes."""
    index = side.index
    assert isinstance(index, IvfVectorIndex)
    ids = side.faiss_ids(nodes)
    if (ids < 0).any():
        raise KeyError(f"node {int(nodes[np.argmax(ids < 0)])} has no stored vector")
    if (whole := index.stored_lists(ids, min(int(len(nodes) / LIST_SHARE),
                                             _owners_within(side)))) is not None:
        return whole
    return index.stored_many(ids), np.arange(len(nodes))


def _owners_within(side: Side) -> int:
    """Stored vectors of ``side`` that :data:`SCAN_BYTES` holds."""
    index = side.index
    assert isinstance(index, IvfVectorIndex)
    return max(1, SCAN_BYTES // index.code_bytes)


def _scan_cells(other: Side, nodes: np.ndarray, vectors: np.ndarray,
                batch: list[tuple[int, np.ndarray, np.ndarray]],
                listings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                fresh: FreshRows) -> None:
    """``scan`` of a batch of cells ``(cell, rows of nodes in it, owners probing it)``."""
    if not batch:
        return
    listing, listed, listed_order, listed_cells = listings
    union = setops.unique(np.concatenate([owners for _, _, owners in batch]))
    stored, rows_of = _stored(other, union)
    at_union = np.zeros(int(union[-1]) + 1 if len(union) else 0, dtype=np.int64)
    at_union[union] = rows_of  # owner → its stored row
    for cell, rows, owners in batch:
        block = as_float32(np.take(stored, at_union[owners], axis=0))
        scores = block @ vectors[rows].T
        bound = other.bounds(owners)
        short = np.isneginf(bound)
        fresh.short(owners[short])
        i, r = np.nonzero((scores >= bound[:, None]) & ~short[:, None])
        fresh.add(owners[i], nodes[rows[r]], scores[i, r])
        here = listed_order[np.searchsorted(listed_cells, cell):
                            np.searchsorted(listed_cells, cell, side="right")]
        col = np.searchsorted(rows, listing[here])
        at = np.minimum(np.searchsorted(owners, listed[here]), max(len(owners) - 1, 0))
        probing = owners[at] == listed[here] if len(owners) else np.zeros(len(here), bool)
        score = np.full(len(here), np.nan)
        score[probing] = scores[at[probing], col[probing]]
        fresh.add(listed[here], nodes[listing[here]], score)
