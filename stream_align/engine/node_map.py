"""A map from one graph's node ids to a number, as a growing numpy array (decision 0047).

The decider's matches (left → right, right → left) and published scores were dicts of key
strings, whose entries pointed at the mirrors' own key objects; keyed by node, a dict holds an
``int`` object per key and value (≈ 60 bytes an entity more, measured). An array indexed by
node costs 8 bytes a node of the graph, matched or not, and reads many nodes at once
(:meth:`of`) where a dict needs a Python read per node.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from stream_align.arrays import grown


class NodeMap:
    """``node → value`` (``int64`` nodes, ``-1`` marks none; or ``float64``, ``NaN`` none)."""

    def __init__(self, floats: bool = False) -> None:
        self._floats = floats
        self._none = np.nan if floats else -1
        self._values = np.zeros(0, dtype=np.float64 if floats else np.int64)
        self._count = 0

    def _held(self, values: np.ndarray) -> np.ndarray:
        return ~np.isnan(values) if self._floats else values != -1

    def get(self, node: int, default: object = None) -> object:
        if node >= len(self._values):
            return default
        value = self._values[node].item()
        absent = value != value if self._floats else value == -1  # NaN is not itself
        return default if absent else value

    def __getitem__(self, node: int) -> object:
        value = self.get(node)
        if value is None:
            raise KeyError(node)
        return value

    def __contains__(self, node: object) -> bool:
        return isinstance(node, int) and self.get(node) is not None

    def __setitem__(self, node: int, value: float) -> None:
        if node >= len(self._values):
            self._values = grown(self._values, node + 1, self._none)
        self._count += self.get(node) is None
        self._values[node] = value

    def pop(self, node: int, default: object = None) -> object:
        value = self.get(node)
        if value is None:
            return default
        self._values[node] = self._none
        self._count -= 1
        return value

    def update(self, pairs: Iterable[tuple[int, int | float]]) -> None:
        for node, value in pairs:
            self[node] = value

    def of(self, nodes: np.ndarray) -> np.ndarray:
        """The values of ``nodes`` at once (``-1``/``NaN``: none)."""
        nodes = np.asarray(nodes, dtype=np.int64)
        out = np.full(len(nodes), self._none, dtype=self._values.dtype)
        inside = nodes < len(self._values)
        out[inside] = self._values[nodes[inside]]
        return out

    def nodes(self) -> np.ndarray:
        """The nodes with a value, ascending."""
        return np.flatnonzero(self._held(self._values))

    def keys(self) -> set[int]:
        return set(self.nodes().tolist())

    def items(self) -> Iterator[tuple[int, int | float]]:
        nodes = self.nodes()
        return zip(nodes.tolist(), self._values[nodes].tolist(), strict=True)

    def __iter__(self) -> Iterator[int]:
        return iter(self.nodes().tolist())

    def __len__(self) -> int:
        return self._count

    def clear(self) -> None:
        self._values[:] = self._none
        self._count = 0

    def nbytes(self) -> int:
        return int(self._values.nbytes)
