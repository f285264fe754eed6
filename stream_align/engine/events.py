"""AlignmentEvents for decision changes: evidence, cause, event time, unique ids.

``cause`` and ``event_time`` follow ``causes``: the inputs whose effects reach the pair's
scores or labels (through the left entity, the right one, or the left's new partner — so a
decision moved only by a competitor's change names it through the freed partner), and the
latest of their times; with no known cause, ``event_time`` is the decision time, which every
event also carries as ``decided_at``.

``event_id`` comes from the state's event sequence (:class:`EventIds`, restored from and
written back to the store with the batch, ``store.event_sequence``): unique across the life of
the state, and fixed once committed, so a re-published outbox record keeps it.
It is not a hash of the event's content: two different events may have equal contents (a
pair retracted twice at the same score for the same causes), and a consumer that skips an id
it has applied must never skip the second one.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from stream_align.engine.cause_ids import CauseRows
from stream_align.engine.causes import Causes, ClosureCauses
from stream_align.engine.decisions import Change
from stream_align.engine.delta import StateDelta
from stream_align.engine.event_rows import EventFrame, EventRows, EvidenceRow
from stream_align.engine.progress import counted
from stream_align.engine.scoring import pair_evidence
from stream_align.engine.string_table import StringColumn
from stream_align.engine.threads import beside, second_thread
from stream_align.events.contracts import Direction, Evidence, now_ms
from stream_align.model.evidence import NeighbourPair
from stream_align.model.vocab import plain_relation

if TYPE_CHECKING:
    from stream_align.engine.engine import AlignmentEngine


BESIDE_EVENTS = 4096
"""Events of one call from which their causes are read on a second thread beside their
evidence (``engine.bulk_threads = 2``, torch on two threads): the evidence's attention and the
causes' merges are array work that leaves the GIL, so a bulk refresh can use a free core there
(decision 0092). Fewer are not worth a thread's hand-overs."""

EVIDENCE_PAIRS = 65_536
"""Matches whose evidence is found at a time: each slice's entries (objects, ≈ 0.8 KB a
match) become the events' rows before the next slice is found — a bulk refresh explains
every new match (532,274 at 1M a side), and every entry held at once beside the rows was
≈ 0.7 GB there (decision 0133). A pair's evidence reads only its own two entities' rows."""


class EventIds:
    """The state's identity and next event number (restored; advanced in the batch's delta).

    A new state gets a fresh identity (uuid4) with its first event, so a wiped state directory
    whose counter starts at 0 again cannot repeat an earlier id."""

    def __init__(self, identity: str | None = None, first: int = 0) -> None:
        self.identity, self.next = identity, first

    def allocate(self, count: int, delta: StateDelta) -> tuple[str, int]:
        """``(identity, first number)`` of ``count`` consecutive new ids."""
        if self.identity is None:
            self.identity = delta.event_identity = uuid.uuid4().hex
        first, self.next = self.next, self.next + count
        delta.next_event_seq = self.next
        return self.identity, first


def _closures(engine: AlignmentEngine, causes: Causes) -> tuple[ClosureCauses, ClosureCauses]:
    """Per graph, what reached an entity's scores or labels (its closure ``L``, ``affected``);
    the held ids ranked once for both."""
    vocab = causes.vocabulary()
    left, right = (causes.closure(s, lambda nodes, side=side: side.samples.slot_table(nodes)[0],
                                  engine.settings.max_cause_ids, vocab)
                   for s, side in enumerate(engine.sides))
    return left, right


def _reached(engine: AlignmentEngine, reached: ClosureCauses, side: int,
             keys: list[str | None]) -> CauseRows:
    """The first ids and the latest time of the inputs that reached each entity ``key``'s
    scores or labels (``None``: no entity, no causes), as rows named when read."""
    index = engine.sides[side].graph.index
    return reached.rows_of_many([(key, None if key is None else index.get(key))
                                 for key in keys])


def _evidence(engine: AlignmentEngine, matches: list[Change], beside_work: bool = False
              ) -> list[tuple[EvidenceRow, ...]]:
    size = engine.settings.evidence_size
    if not size or not matches:
        return [() for _ in matches]
    ga, gb = engine.sides[0].graph, engine.sides[1].graph
    pairs = [(ga.index[c.left], gb.index[c.right]) for c in matches]
    out: list[tuple[EvidenceRow, ...]] = []
    for lo in range(0, len(pairs), EVIDENCE_PAIRS):
        found = pair_evidence(engine.bundle, engine.sides, pairs[lo:lo + EVIDENCE_PAIRS],
                              engine.settings.recompute_chunk, size, engine.progress,
                              beside_work)
        out.extend(_rows(ga.keys, gb.keys, found))
    return out


def _rows(keys_a: StringColumn, keys_b: StringColumn, found: list[list[NeighbourPair]]
          ) -> list[tuple[EvidenceRow, ...]]:
    """Each pair's entries as rows: every entry's neighbour keys read in one ``take`` a side
    (a key read an entry was a third of a bulk refresh's events, decision 0139)."""
    flat = [e for row in found for e in row]
    lefts = keys_a.take(np.fromiter((e.left for e in flat), dtype=np.int64, count=len(flat)))
    rights = keys_b.take(np.fromiter((e.right for e in flat), dtype=np.int64, count=len(flat)))
    rows = [(left, right, *_relation(e.relation_left), *_relation(e.relation_right), e.weight)
            for left, right, e in zip(lefts, rights, flat, strict=True)]
    ends = np.cumsum([len(row) for row in found]).tolist()
    return [tuple(rows[end - len(row):end]) for row, end in zip(found, ends, strict=True)]


@lru_cache(maxsize=4096)
def _relation(name: str) -> tuple[str | None, Direction | None]:
    """The plain relation name and direction of a vocabulary name (``None``s: unknown)."""
    plain = plain_relation(name)
    if plain is None:
        return None, None
    return plain[0], Direction.OUTGOING if plain[1] else Direction.INCOMING


def _causes(engine: AlignmentEngine, first: Causes, decided: list[Change]
            ) -> tuple[CauseRows, CauseRows]:
    """The cause rows of each decided pair's entities and of the right entity's partner (it
    reads the graphs' indexes, the samples and ``first``, nothing the evidence writes: it may
    run beside it; no progress reports from here)."""
    reached = _closures(engine, first)
    partners = [engine.decider.matches.get(change.left) for change in decided]
    lefts = _reached(engine, reached[0], 0, [change.left for change in decided])
    rights = _reached(engine, reached[1], 1, [change.right for change in decided] + [
        partner if partner != change.right else None
        for change, partner in zip(decided, partners, strict=True)])
    return lefts, rights


def build_events(engine: AlignmentEngine, delta: StateDelta, decided: list[Change],
                 causes: Causes, given: dict[int, tuple[Evidence, ...]] | None = None
                 ) -> EventRows:
    """One event per decision change, in the order the decider returned them; ``given``:
    evidence already known, by ``id`` of the change (the neighbourhood stage's). The events
    are rows (``EventRows``): each ``AlignmentEvent`` is built when the service reads it."""
    limit = engine.settings.max_cause_ids
    if not decided:  # no decision moved (most calls of one insert): no causes, no evidence
        return EventRows(EventFrame("", 0, now_ms(), engine.bundle.version, limit), [], [],
                         None, [])
    given = given or {}
    matches = [c for c in decided if not c.retract and id(c) not in given]
    engine.progress("causes", 0, len(decided))
    on = second_thread() and len(decided) >= BESIDE_EVENTS
    with beside(on) as run:
        causes_of = run(_causes, engine, causes.first(limit), decided)
        evidence: dict[int, tuple[EvidenceRow | Evidence, ...]] = dict(
            zip(map(id, matches), _evidence(engine, matches, on), strict=True))
        lefts, rights = causes_of.result()
    evidence.update(given)
    decided_at = now_ms()
    identity, first_seq = engine.event_ids.allocate(len(decided), delta)
    times = []
    for at, _ in enumerate(counted(decided, engine.progress, "events", len(decided))):
        found = [when for when in (lefts.time(at), rights.time(at),
                                   rights.time(len(decided) + at)) if when is not None]
        times.append(max(found) if found else decided_at)
    frame = EventFrame(identity, first_seq, decided_at, engine.bundle.version, limit)
    return EventRows(frame, decided, [evidence.get(id(c), ()) for c in decided],
                     (lefts, rights), times)
