"""`stream-align replay` publishes every entity and triple of a real dataset to the real broker."""

import json
from pathlib import Path

import pytest

from stream_align.cli import main
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, triple_changes
from stream_align.events.codec import CodecSettings
from stream_align.events.contracts import TripleChange
from stream_align.service.intake import TripleIntake
from stream_align.service.settings import KafkaSettings

# DBP15K zh_en counts from the datasets README.
ZH_EN_ENTITIES = 19_388 + 19_572
ZH_EN_TRIPLES = 70_414 + 95_142


@pytest.mark.integration
def test_replay_zh_en_publishes_every_entity_and_triple(
    datasets_dir: Path, kafka_settings: KafkaSettings, kafka_config_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["replay", "--dataset", str(datasets_dir / "dbp15k" / "zh_en"),
                 "--order", "shuffle", "--seed", "3", "--no-progress",
                 "--config", str(kafka_config_file)])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0
    assert summary["published_triple_changes"] == ZH_EN_ENTITIES + ZH_EN_TRIPLES
    assert summary["published_labels"] == 4_050

    seen: list[TripleChange] = []
    intake = TripleIntake(kafka_settings, CodecSettings())
    try:
        result = intake.run(seen.append, until_idle=5.0)
    finally:
        intake.close()
    assert result.by_op == {"UPSERT_ENTITY": ZH_EN_ENTITIES, "ADD_TRIPLE": ZH_EN_TRIPLES}
    assert not result.dead_letters
    assert len({e.event_id for e in seen}) == len(seen)
    # Within a partition (keyed by graph/head) an entity's upsert precedes its own triples.
    first_upsert: dict[str, int] = {}
    for position, event in enumerate(seen):
        if event.tail is None:
            first_upsert.setdefault(event.key, position)
        else:
            assert first_upsert.get(event.key, len(seen)) < position


@pytest.mark.integration
def test_replay_in_parts_publishes_the_same_events_once(
    datasets_dir: Path, kafka_settings: KafkaSettings, kafka_config_file: Path,
) -> None:
    """``--limit`` then ``--skip`` (a bulk load, then a streamed tail) cover the order once."""
    dataset = str(datasets_dir / "er_benchmarks" / "itunes_amazon")
    common = ["replay", "--dataset", dataset, "--order", "shuffle", "--seed", "3",
              "--no-progress", "--no-labels", "--config", str(kafka_config_file)]
    assert main([*common, "--limit", "1000"]) == 0
    assert main([*common, "--skip", "1000", "--limit", "250"]) == 0

    seen: list[TripleChange] = []
    intake = TripleIntake(kafka_settings, CodecSettings())
    try:
        intake.run(seen.append, until_idle=5.0)
    finally:
        intake.close()
    expected = [e.event_id for e in triple_changes(
        load_dataset(Path(dataset)), ReplayOrder.SHUFFLE, 3)][:1250]
    assert sorted(e.event_id for e in seen) == sorted(expected)
