"""AlignmentEvents for decision changes: evidence, cause, deterministic ids.

``cause`` lists the batch's TripleChange ids that touched a node the pair's scores read: an
embedding of ``x`` reads ``L(x) = x ∪ S(x) ∪ S(S(x))``, so a change touching a node of ``L`` of
either side is a cause. A decision moved only by a competitor's change (a freed partner) has the
competitor's causes through its old partner. Event ids hash the pair, decision, score and cause,
so a batch re-processed after a crash publishes the same ids; ``event_time`` is the latest
input's, for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from stream_align.engine.decisions import Change
from stream_align.engine.held import Causes
from stream_align.engine.progress import counted
from stream_align.engine.scoring import score_pairs
from stream_align.events.contracts import (
    AlignmentEvent,
    Decision,
    Direction,
    Evidence,
    Label,
    TripleChange,
    now_ms,
)
from stream_align.model.vocab import plain_relation

if TYPE_CHECKING:
    from stream_align.engine.engine import AlignmentEngine


def _first_causes(causes: Causes, limit: int) -> Causes:
    """Each node's ``limit`` smallest cause ids: the ``limit`` smallest of a union are among
    its parts', so an event's cause is the same from these — and a hub touched by thousands of
    a snapshot's triples is not walked again for every event whose closure reaches it."""
    left, right = ({n: sorted(set(ids))[:limit] for n, ids in side.items()}
                   for side in causes)
    return left, right


def _causes(engine: AlignmentEngine, causes: Causes, side: int, key: str | None) -> set[str]:
    s = engine.sides[side]
    node = s.graph.index.get(key) if key is not None else None
    if node is None:
        return set()
    reach = s.samples.closure([node]) | {node}
    return {cid for n in reach for cid in causes[side].get(n, ())}


def _evidence(engine: AlignmentEngine, matches: list[Change]) -> list[tuple[Evidence, ...]]:
    size = engine.settings.evidence_size
    if not size or not matches:
        return [() for _ in matches]
    ga, gb = engine.sides[0].graph, engine.sides[1].graph
    pairs = [(ga.index[c.left], gb.index[c.right]) for c in matches]
    _, found = score_pairs(engine.bundle, engine.sides, pairs, engine.settings.recompute_chunk,
                           evidence=size, progress=engine.progress)
    return [tuple(Evidence(left_neighbour=ga.keys[e.left], right_neighbour=gb.keys[e.right],
                           relation_left=(left := _relation(e.relation_left))[0],
                           relation_right=(right := _relation(e.relation_right))[0],
                           direction_left=left[1], direction_right=right[1],
                           weight=e.weight) for e in row) for row in found]


def _relation(name: str) -> tuple[str | None, Direction | None]:
    """The plain relation name and direction of a vocabulary name (``None``s: unknown)."""
    plain = plain_relation(name)
    if plain is None:
        return None, None
    return plain[0], Direction.OUTGOING if plain[1] else Direction.INCOMING


def latest_time(changes: Sequence[TripleChange], labels: Sequence[Label]) -> int | None:
    """The latest ``event_time`` of some inputs (``None`` without any)."""
    times = [c.event_time for c in changes] + [label.event_time for label in labels]
    return max(times) if times else None


def build_events(engine: AlignmentEngine, decided: list[Change], causes: Causes,
                 when: int | None) -> list[AlignmentEvent]:
    """One event per decision change, in the order the decider returned them; ``event_time``
    is ``when``, the latest input's (now, for a refresh no input caused)."""
    matches = [c for c in decided if not c.retract]
    evidence = dict(zip(map(id, matches), _evidence(engine, matches), strict=True))
    engine.progress("causes", 0, len(decided))
    when = now_ms() if when is None else when
    limit = engine.settings.max_cause_ids
    causes = _first_causes(causes, limit)
    events = []
    for change in counted(decided, engine.progress, "events", len(decided)):
        partner = engine.decider.matches.get(change.left)
        cause = (_causes(engine, causes, 0, change.left)
                 | _causes(engine, causes, 1, change.right)
                 | _causes(engine, causes, 1, partner if partner != change.right else None))
        ordered = tuple(sorted(cause))[:limit]
        decision = Decision.RETRACT if change.retract else Decision.MATCH
        previous = None if change.previous_score is None else Decision.MATCH
        events.append(AlignmentEvent.new(
            id_from=(change.left, change.right, decision.value, f"{change.score:.6f}",
                     *ordered),
            event_time=when, left=change.left, right=change.right, decision=decision,
            score=change.score, previous_decision=previous, previous_score=change.previous_score,
            model_version=engine.bundle.version, evidence=evidence.get(id(change), ()),
            cause=ordered))
    return events
