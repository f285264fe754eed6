"""Labels (known answers for pairs): persisted so a restart still honours every override.

One row per labelled pair; a later label for the same pair replaces the earlier one (a reviewer
correcting a seed). Keyed ``(left, right)`` so all labels of a left entity are one prefix scan.
"""

from collections.abc import Iterator

from stream_align.store.keys import Table, pack, unpack
from stream_align.store.pending import PendingWrites


class LabelStore:
    """Label reads and writes inside one transaction."""

    def __init__(self, kv: PendingWrites) -> None:
        self._kv = kv

    def put(self, left: str, right: str, label: str, source: str) -> None:
        """Record (or replace) the label of the pair."""
        self._kv.put(Table.LABEL, pack(left, right), pack(label, source))

    def get(self, left: str, right: str) -> tuple[str, str] | None:
        """``(label, source)`` of the pair, or None."""
        value = self._kv.get(Table.LABEL, pack(left, right))
        if value is None:
            return None
        label, source = unpack(value)
        return label, source

    def all(self) -> Iterator[tuple[str, str, str, str]]:
        """Every ``(left, right, label, source)``, ordered by pair."""
        for key, value in self._kv.scan(Table.LABEL):
            left, right = unpack(key)
            label, source = unpack(value)
            yield left, right, label, source
