"""One round of the neighbourhood stage: its anchors, support table and matches.

``NeighbourhoodStage`` keeps one ``Layer`` per round (its module docstring says why rounds are
kept apart). A layer's matching reads only its own support table: a pair stands when it is the
best of its row and of its column (``Support.mutual``), so re-matching the entities whose row
or column changed is all an update needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stream_align.engine.neighbourhood import Support


@dataclass
class Layer:
    """One round: its anchors (left → right and back), the anchors that are no hub, its
    support table and its matches."""

    anchors: dict[int, int] = field(default_factory=dict)
    anchors_b: dict[int, int] = field(default_factory=dict)
    active: set[int] = field(default_factory=set)
    support: Support = field(default_factory=Support)
    matches: dict[int, int] = field(default_factory=dict)
    matched_b: dict[int, int] = field(default_factory=dict)

    def wanted(self, x: int) -> int | None:
        """The next round's anchor of ``x``: this round's anchor or match."""
        return self.anchors.get(x, self.matches.get(x))

    def rematch(self, changed_a: set[int], changed_b: set[int]) -> set[int]:
        """Re-match every entity whose row or column changed (a pair's standing depends on
        its row and its column only); return the left entities whose match moved."""
        lefts = set(changed_a)
        for b in changed_b:
            lefts.update(a for a in (self.matched_b.get(b), self.support.best_left(b))
                         if a is not None)
        old = {a: self.matches.pop(a) for a in lefts if a in self.matches}
        for b in old.values():
            del self.matched_b[b]
        for a in sorted(lefts):
            b = self.support.mutual(a)
            if b is not None and b not in self.matched_b:
                self.matches[a], self.matched_b[b] = b, a
        return {a for a in lefts if old.get(a) != self.matches.get(a)}
