"""A set of node numbers held as an ``int32`` array, not a Python ``set``.

The held work (``held.HeldWork``) gathers the nodes recomputed, removed and touched over every
call of a drain; at a bulk load's final refresh that is every node of both graphs, several
times over. As ``set`` objects each node cost a table slot and an ``int`` object (≈ 60–75 bytes a
node, decision 0090); here a node costs 4 bytes once folded (decision 0114). Nodes added are
appended to a buffer and folded into the sorted distinct array when the buffer outgrows it
(``np.union1d``: amortised ``O(n log n)``), or when the set is read.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Set

import numpy as np


class NodeSet(Set[int]):
    """Distinct non-negative node numbers below 2**31, read as a ``Set`` (iteration in
    ascending order, ``len``, ``in``, ``|``) or as an array (:meth:`array`)."""

    def __init__(self, nodes: Iterable[int] = ()) -> None:
        self._sorted = np.zeros(0, dtype=np.int32)
        self._added = array("i")
        self.update(nodes)

    def update(self, nodes: Iterable[int]) -> None:
        """Add ``nodes``."""
        if isinstance(nodes, NodeSet):
            self._added.frombytes(nodes.array().tobytes())
        elif isinstance(nodes, np.ndarray):  # as one buffer, not an int object a node
            self._added.frombytes(nodes.astype(np.int32, copy=False).tobytes())
        else:
            self._added.extend(nodes)
        if len(self._added) > max(len(self._sorted), 1 << 12):
            self._fold()

    def array(self) -> np.ndarray:
        """The nodes, sorted, as ``int32`` (the set's own array: do not write into it)."""
        self._fold()
        return self._sorted

    def _fold(self) -> None:
        if len(self._added):
            self._sorted = np.union1d(self._sorted, np.frombuffer(self._added, dtype=np.int32)
                                      ).astype(np.int32, copy=False)
            self._added = array("i")

    def __len__(self) -> int:
        return len(self.array())

    def __iter__(self) -> Iterator[int]:
        return iter(self.array().tolist())

    def __contains__(self, node: object) -> bool:
        nodes = self.array()
        at = int(np.searchsorted(nodes, node)) if isinstance(node, int) else len(nodes)
        return at < len(nodes) and int(nodes[at]) == node

    @classmethod
    def _from_iterable(cls, it: Iterable[object]) -> set:  # type: ignore[override]
        """``&``, ``-``, ``^`` and a union with another kind of set give a ``set`` (their
        other operand may hold anything)."""
        return set(it)

    def __or__(self, other: Set) -> Set:  # type: ignore[override]
        """The union: a ``NodeSet`` of two ``NodeSet``s, else a ``set``."""
        if not isinstance(other, NodeSet):
            return set(self) | set(other)
        out = NodeSet()
        out._sorted = np.union1d(self.array(), other.array()).astype(np.int32, copy=False)
        return out

    __ror__ = __or__
