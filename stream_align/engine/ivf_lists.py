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

import numpy as np

from stream_align import setops
from stream_align.arrays import grown
from stream_align.engine.list_repair import Found, FreshRows
from stream_align.engine.progress import Progress, chunks, no_progress
from stream_align.engine.side import Side
from stream_align.engine.threads import blas_on_one_thread
from stream_align.index import IvfVectorIndex, auto_cells, train_quantiser, training_rows

CHUNK = 8192
"""Entities searched per FAISS call in a full rebuild (bounded query memory)."""
SCAN_OWNERS = 131_072
"""Distinct list owners whose vectors ``scan`` decodes at a time (128 MB as float32 at 256
dimensions): every owner of a side up to 131,072 entities a side, so each is decoded once a
batch, where it was decoded once per probed cell — ``nprobe`` times (decision 0054). Float32,
not half floats: a touched cell's owners are gathered once per cell, and numpy widens half
floats one value at a time — 3× the scan's CPU at 40K a side (decision 0068)."""


def train(sides: tuple[Side, Side], cells: int, nprobe: int, float16: bool) -> np.ndarray:
    """Train the quantiser on both sides' indexed vectors and move both into its cells: from
    the flat indexes the first time, from the IVF indexes again when the graphs outgrew the
    cells (``outgrown``)."""
    indexed = sum(side.count for side in sides)
    cells = cells or auto_cells(indexed)
    if sides[0].ivf:
        centroids = train_quantiser(_sampled(sides, training_rows(indexed, cells)), cells)
    else:
        rows = [side.index.rows()[1] for side in sides
                if side.index is not None and len(side.index)]
        vectors = np.concatenate(rows) if rows else np.zeros((0, 1), np.float32)
        centroids = train_quantiser(vectors, cells)
    for side in sides:
        side.use_ivf(centroids, nprobe, float16)
    return centroids


def outgrown(indexed: int, nlist: int, cells: int) -> bool:
    """Whether ``indexed`` vectors (both graphs) have outgrown a quantiser of ``nlist`` cells:
    with ``cells`` 0 (``ivf_cells``: cells follow the graphs) once ``auto_cells`` of the
    indexed count reaches twice ``nlist`` — each 4× growth of the graphs, so a list's cells
    keep ≈ ``√n / 4`` members instead of ``n / nlist``, and the full rebuild a training
    costs is amortised as an array's doubling is. A function of the indexed count and the
    stored quantiser alone: an engine restored from a store decides as the one that wrote it
    (decision 0068)."""
    return not cells and auto_cells(indexed) >= 2 * nlist


def _sampled(sides: tuple[Side, Side], pick: np.ndarray | None) -> np.ndarray:
    """The indexed vectors of both sides (each by ascending FAISS id, graph A first), only the
    ``pick`` rows of them where given: decoded from the IVF codes, a sample at a time."""
    parts, offset = [], 0
    for side in sides:
        assert isinstance(side.index, IvfVectorIndex)
        ids = every = side.index.ids()
        if pick is not None:
            ids = every[pick[(pick >= offset) & (pick < offset + len(every))] - offset]
        offset += len(every)
        parts.extend(side.index.reconstruct_many(ids[lo:lo + CHUNK])
                     for lo in range(0, len(ids), CHUNK))
    return np.concatenate(parts) if parts else np.zeros((0, sides[0].index.dim), np.float32)


def search_own(mine: Side, other: Side, nodes: np.ndarray, depth: int,
               progress: Progress = no_progress) -> Found:
    """``nodes``' lists from IVF searches of the other side; their probed cells registered —
    also while the other side has no vector yet (its lists are then empty): the cells a list
    probes depend on its owner's vector alone, and the other side's vectors arriving later
    enter exactly the lists registered on their cells (``scan``). Registering none there left
    such lists empty for good — at a large load, whose queue recomputes graph A before B and
    trains the quantiser on A alone, most of A's lists — until a restore registered them and
    its first batch did all the missed work at once (decision 0044)."""
    out: list[Found] = []
    for start in chunks(range(0, len(nodes), CHUNK), progress, "candidate lists"):
        part = nodes[start:start + CHUNK]
        vectors = mine.vectors(part.tolist())
        cells = _probed(mine, other, part, vectors)
        out.append(Found.searched(part, *other.search(vectors, depth, cells), depth))
    return Found.concat(out) if out else Found.empty(nodes, depth)


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

    Cell by cell, each owner's vector decoded once per :data:`SCAN_OWNERS` owners (not once per
    probed cell: an owner probes ``nprobe`` cells, and a drain batch's changed vectors reach
    nearly all of them), and the listed pairs split by cell once (not a membership test of all
    of them per cell) — decision 0054."""
    if not len(nodes) or other.probers is None or not isinstance(mine.index, IvfVectorIndex):
        return
    vectors = mine.vectors(nodes.tolist())
    cells = mine.index.cells_of(mine.faiss_ids(nodes))
    listing, listed = other.listed_by.of(nodes)  # (index into nodes, list owner)
    by_cell = np.argsort(cells, kind="stable")
    firsts, starts, counts = np.unique(cells[by_cell], return_index=True, return_counts=True)
    listed_order = np.argsort(cells[listing], kind="stable")
    listings = listing, listed, listed_order, cells[listing][listed_order]
    batch: list[tuple[int, np.ndarray, np.ndarray]] = []
    seen, held = np.zeros(0, dtype=bool), 0  # distinct owners of the batch
    with blas_on_one_thread():  # one small product per cell (decision 0075)
        for cell, lo, k in zip(firsts.tolist(), starts.tolist(), counts.tolist(), strict=True):
            owners = np.sort(other.probers.of(cell))
            seen = grown(seen, int(owners.max(initial=-1)) + 1, False)
            held += int(np.count_nonzero(~seen[owners]))
            seen[owners] = True
            batch.append((cell, by_cell[lo:lo + k], owners))
            if held >= SCAN_OWNERS:
                _scan_cells(other, nodes, vectors, batch, listings, fresh)
                batch, held = [], 0
                seen[:] = False
        _scan_cells(other, nodes, vectors, batch, listings, fresh)


def _decoded(side: Side, nodes: np.ndarray) -> np.ndarray:
    """The indexed vectors of ``nodes`` as float32 (half-float codes widened once here, not
    once per cell that gathers them), read from the lists' codes."""
    index = side.index
    assert isinstance(index, IvfVectorIndex)
    return index.reconstruct_many(side.faiss_ids(nodes))


def _scan_cells(other: Side, nodes: np.ndarray, vectors: np.ndarray,
                batch: list[tuple[int, np.ndarray, np.ndarray]],
                listings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                fresh: FreshRows) -> None:
    """``scan`` of a batch of cells ``(cell, rows of nodes in it, owners probing it)``."""
    if not batch:
        return
    listing, listed, listed_order, listed_cells = listings
    union = setops.unique(np.concatenate([owners for _, _, owners in batch]))
    decoded = _decoded(other, union)
    at_union = np.zeros(int(union[-1]) + 1 if len(union) else 0, dtype=np.int64)
    at_union[union] = np.arange(len(union))  # owner → its decoded row
    for cell, rows, owners in batch:
        block = decoded[at_union[owners]]
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
