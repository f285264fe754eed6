"""Each entity's level-1 state ``h1``, kept so a pair score needs no local encode.

A pair score reads the pair's two retrieval vectors (``h0``, ``h1``, the fixed skips: all in the
index) and, for its cross-attention last layer, the ``h1`` of both entities and of their samples
(see ``scoring``). Encoding those closures again for every re-scored pair was most of a small
batch's cost. A recompute of ``D`` computes exact ``h1`` for ``D ∪ S(D)`` anyway
(``recompute.encode_local``); they are kept here, and a node no recompute has reached yet (after
a restore) is encoded on first use.

Why the rows stay exact enough: an entity whose ``h1`` changes is in the affected set of that
batch, so it is recomputed (or queued) and so is every entity that samples it. A row read while
its entity is still queued is as stale as that entity's indexed vector, and the pair is scored
again when the queued entity is recomputed — so once the queue is drained every kept row, and
every pair score, equals a from-scratch computation's.

The same rule says when a row stays *current*: every row put is computed on the graph of that
moment, and only the affected set of a later batch can change it. So a row is flagged current
when put and unflagged when its node is affected (``outdate``, at the start of each
recompute). A bulk drain's chunks encode the ``h1`` of their queued neighbours; a neighbour's
row computed by one chunk stays current until the node is affected again, so the later chunks
and drain calls that sample it read it instead of encoding it again (``engine.levelwise``,
decision 0102): a queued node's ``h1`` is encoded about once a drain, not once a chunk that
reaches it. One byte a node.

The rows are stored with the state (decision 0135): every row put, outdated or dropped in a
``process`` call is handed to that call's delta (:meth:`take_written`: one more byte a node),
and a restore loads them back as they were kept, flags included (:meth:`load`), so a restored
engine computes no row the engine that stored them had.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from stream_align import setops
from stream_align.arrays import grown, lookup


class LevelOneCache:
    """``h1`` rows of one graph by global node index; rows no recompute has written are absent."""

    def __init__(self) -> None:
        self._rows = np.zeros((0, 0), dtype=np.float32)
        self._known = np.zeros(0, dtype=bool)
        self._current = np.zeros(0, dtype=bool)  # put since the node was last affected
        self._written = np.zeros(0, dtype=bool)  # put, outdated or dropped since last taken

    def put(self, nodes: np.ndarray, h1: torch.Tensor) -> None:
        """Keep ``h1[i]`` as the state of ``nodes[i]``."""
        self.load(nodes, h1.numpy(), np.ones(len(nodes), dtype=bool))
        self._written[nodes] = True

    def load(self, nodes: np.ndarray, rows: np.ndarray, current: np.ndarray) -> None:
        """Keep ``rows[i]`` as the state of ``nodes[i]``, current where ``current[i]``, as
        stored (a restore: nothing to write back)."""
        if not len(nodes):
            return
        if self._rows.shape[1] != rows.shape[1]:  # the first rows fix the width
            self._rows = np.zeros((0, rows.shape[1]), dtype=np.float32)
        size = int(nodes.max()) + 1
        self._rows, self._known = grown(self._rows, size, 0.0), grown(self._known, size, False)
        self._current = grown(self._current, size, False)
        self._written = grown(self._written, size, False)
        self._rows[nodes] = rows
        self._known[nodes] = True
        self._current[nodes] = current

    def drop(self, nodes: Iterable[int]) -> None:
        """Forget deleted entities."""
        for node in nodes:
            if node < len(self._known):
                self._known[node] = self._current[node] = False
                self._written[node] = True

    def outdate(self, nodes: Iterable[int]) -> None:
        """``nodes`` are affected: their rows, where kept, may be outdated until put again."""
        ids = np.fromiter(nodes, dtype=np.int64)
        ids = ids[ids < len(self._current)]
        self._current[ids] = False
        self._written[ids[self._known[ids]]] = True

    def take_written(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The nodes put, outdated or dropped since the last call (ascending), each one's row,
        whether it is current and whether it is kept (``False``: dropped, the row is
        meaningless); the marks are cleared."""
        nodes = np.flatnonzero(self._written)
        self._written[nodes] = False
        return nodes, self._rows[nodes], self._current[nodes], self._known[nodes]

    def current(self, nodes: np.ndarray) -> np.ndarray:
        """Whether each of ``nodes`` has a row put since it was last affected or dropped."""
        return lookup(self._current, nodes, False)

    def missing(self, nodes: Iterable[int]) -> list[int]:
        """The ``nodes`` without a kept row, sorted."""
        ids = setops.unique(np.fromiter(nodes, dtype=np.int64))
        return ids[~lookup(self._known, ids, False)].tolist()

    def rows(self, nodes: Sequence[int]) -> torch.Tensor:
        """``(len(nodes) + 1, d)``: the kept rows, then the zero row padding slots point at."""
        out = np.zeros((len(nodes) + 1, self._rows.shape[1]), dtype=np.float32)
        out[:-1] = self._rows[np.asarray(nodes, dtype=np.int64)]
        return torch.from_numpy(out)
