"""Labels (known answers for pairs): persisted so a restart still honours every override.

One row per labelled pair; a later label for the same pair replaces the earlier one (a reviewer
correcting a seed). Keyed ``(left, right)`` so all labels of a left entity are one prefix scan.
The value keeps the label's ``event_time``: which of an entity's MATCH labels governs depends on
it (``engine.labels``), and a restart must rebuild exactly that. Rows written before the time
was stored read as time 0.
"""

from collections.abc import Iterator
from typing import NamedTuple

from stream_align.store.keys import Table, pack, unpack
from stream_align.store.pending import PendingWrites


class StoredLabel(NamedTuple):
    """One stored label."""

    left: str
    right: str
    label: str
    source: str
    event_time: int


class LabelStore:
    """Label reads and writes inside one transaction."""

    def __init__(self, kv: PendingWrites) -> None:
        self._kv = kv

    def put(self, left: str, right: str, label: str, source: str, event_time: int) -> None:
        """Record (or replace) the label of the pair."""
        self._kv.put(Table.LABEL, pack(left, right), pack(label, source, str(event_time)))

    def get(self, left: str, right: str) -> StoredLabel | None:
        """The pair's label, or None."""
        value = self._kv.get(Table.LABEL, pack(left, right))
        return None if value is None else _decode(left, right, value)

    def all(self) -> Iterator[StoredLabel]:
        """Every label, ordered by pair."""
        for key, value in self._kv.scan(Table.LABEL):
            left, right = unpack(key)
            yield _decode(left, right, value)


def _decode(left: str, right: str, value: bytes) -> StoredLabel:
    label, source, *rest = unpack(value)
    return StoredLabel(left, right, label, source, int(rest[0]) if rest else 0)
