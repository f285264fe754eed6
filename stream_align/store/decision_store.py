"""Current alignment decisions, readable from either side.

The forward table holds one decision per left entity. The reverse table is keyed
``(right, left)`` rather than ``right -> left`` so it stays consistent even when, for a moment
inside a batch, two left entities point at the same right entity: one-to-one is a rule the
engine enforces, not an invariant the store could silently break.
"""

import json
from collections.abc import Iterator

from stream_align.store.keys import Table, pack, unpack
from stream_align.store.pending import PendingWrites
from stream_align.store.records import Decision
from stream_align.store.values import decode_decision, encode_decision

NEIGHBOURHOOD_RELATIONS = b"neighbourhood_relations/"


class DecisionStore:
    """Decision reads and writes inside one transaction."""

    def __init__(self, kv: PendingWrites) -> None:
        self._kv = kv

    def get(self, left: str) -> Decision | None:
        """The current decision for a left-graph entity, or None."""
        value = self._kv.get(Table.DECISION, pack(left))
        return None if value is None else decode_decision(left, value)

    def for_right(self, right: str) -> list[Decision]:
        """Every current decision that names ``right``, ordered by left entity."""
        prefix = pack(right)
        rows = self._kv.scan(Table.DECISION_BY_RIGHT, prefix)
        lefts = [unpack(key, len(prefix))[0] for key, _ in rows]
        return [decision for left in lefts if (decision := self.get(left)) is not None]

    def put(self, decision: Decision) -> None:
        """Replace the decision for ``decision.left``."""
        self.delete(decision.left)
        self._kv.put(Table.DECISION, pack(decision.left), encode_decision(decision))
        self._kv.put(Table.DECISION_BY_RIGHT, pack(decision.right, decision.left), b"")

    def delete(self, left: str) -> None:
        """Forget the decision for ``left`` (no-op if there is none)."""
        old = self.get(left)
        if old is not None:
            self._kv.delete(Table.DECISION, pack(left))
            self._kv.delete(Table.DECISION_BY_RIGHT, pack(old.right, left))

    def all(self) -> Iterator[Decision]:
        """Every current decision, ordered by left entity."""
        for key, value in self._kv.scan(Table.DECISION):
            yield decode_decision(unpack(key)[0], value)

    def put_neighbourhood_relations(self, model_version: str, learnt_at: tuple[int, int],
                                    pairs: list[tuple[str, str]]) -> None:
        """Store the neighbourhood stage's corresponding relations frozen for
        ``model_version`` (``engine.neighbourhood_stage``), replacing earlier ones."""
        value = json.dumps({"learnt_at": list(learnt_at), "pairs": [list(p) for p in pairs]})
        self._kv.put(Table.META, NEIGHBOURHOOD_RELATIONS + model_version.encode(),
                     value.encode())

    def neighbourhood_relations(self, model_version: str
                                ) -> tuple[tuple[int, int], list[tuple[str, str]]] | None:
        """``((anchors, triples) when learnt, relation pairs)`` stored for ``model_version``,
        or None."""
        value = self._kv.get(Table.META, NEIGHBOURHOOD_RELATIONS + model_version.encode())
        if value is None:
            return None
        data = json.loads(value)
        anchors, triples = data["learnt_at"]
        return (int(anchors), int(triples)), [(str(a), str(b)) for a, b in data["pairs"]]
