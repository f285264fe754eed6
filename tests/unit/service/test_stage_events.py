"""A batch's alignment events staged one at a time: the outbox gives back the records staging
every event's records at once gave, in order (a MATCH's two records stored as one entry), and
the events leave the list as they are staged."""

from __future__ import annotations

from pathlib import Path

from stream_align.events.codec import CodecSettings
from stream_align.events.contracts import AlignmentEvent, Decision, Evidence
from stream_align.service.batch import BatchCodec, stage_events, stage_outputs
from stream_align.service.settings import KafkaSettings
from stream_align.store import StateStore, StoreSettings
from stream_align.store.recovery import iter_outbox


def _events() -> list[AlignmentEvent]:
    evidence = (Evidence(left_neighbour="a:n", right_neighbour="b:n", weight=0.5),)
    events = [AlignmentEvent.new(id_from=("run", i), event_time=1_000 + i, left=f"a:{i}",
                                 right=f"b:{i}", decision=Decision.MATCH, score=0.9,
                                 model_version="v", evidence=evidence, cause=(f"c{i}",))
              for i in range(5)]
    events.append(AlignmentEvent.new(id_from=("run", 5), event_time=900, left="a:1",
                                     right="b:1", decision=Decision.RETRACT, score=0.1,
                                     previous_decision=Decision.MATCH, previous_score=0.9,
                                     model_version="v"))
    return events


def _outbox(path: Path, stage) -> list[tuple[int, object]]:
    with StateStore(StoreSettings(path=path, block_cache_mb=8, memtable_budget_mb=8)) as store:
        with store.transaction() as tx:
            stage(tx)
        return [(entry.seq, entry.record) for entry in iter_outbox(store)]


def test_events_staged_one_at_a_time_fill_the_outbox_as_all_at_once(tmp_path: Path) -> None:
    codec = BatchCodec(KafkaSettings(), CodecSettings())
    expected = _outbox(tmp_path / "all", lambda tx: stage_outputs(
        tx, [record for event in _events() for record in codec.alignment_records(event)], {}))
    events = _events()
    staged = []
    outbox = _outbox(tmp_path / "each", lambda tx: staged.append(stage_events(tx, codec, events)))
    assert [record for _, record in outbox] == [record for _, record in expected]
    assert len(expected) == 12 and expected[-1][1].value is None  # the retraction's tombstone
    # a MATCH's two records (the same bytes) are one entry; the retraction's two differ
    assert [seq for seq, _ in outbox] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 6]
    assert events == []
    assert staged[0].times == [1_000, 1_001, 1_002, 1_003, 1_004, 900]
    assert staged[0].decisions == {"MATCH": 5, "RETRACT": 1}
    assert staged[0].records == 12
