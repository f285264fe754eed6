"""CPU seconds of the service's per-record stages for a backlog, without Kafka or the model.

The DBP15K zh_en shuffled replay (seed 7, as ``bulk_replay.sh`` publishes it) and its seed
labels, encoded as JSON records, go through what the service does to every record of a batch
before and after the engine's own stages: ``BatchCodec.decode``, ``admit`` (input ids),
``apply_changes`` (the engine's mirrors), ``write_delta`` of the applied graph and label rows,
and the commit (a real RocksDB in a temporary directory). The collector is off, as in a
service batch. Compare two checkouts by running it from each:
``PYTHONPATH=$PWD python benchmarks/batch_inputs.py [--dataset DIR] [--records N]``.
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from stream_align.engine.apply import apply_changes
from stream_align.engine.delta import StateDelta
from stream_align.engine.mutable_graph import MutableGraph
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.eval.replay import ReplayOrder, labels, triple_changes
from stream_align.events.codec import Codec, CodecSettings
from stream_align.events.contracts import Label, TripleChange
from stream_align.service.batch import BatchCodec
from stream_align.service.engine_state import write_delta
from stream_align.service.idempotency import admit
from stream_align.service.settings import KafkaSettings
from stream_align.store import StateStore, StoreSettings


@dataclass(frozen=True)
class _Record:
    """What the codec reads of a consumed Kafka message."""

    topic_name: str
    partition_id: int
    offset_value: int
    payload: bytes

    def topic(self) -> str:
        return self.topic_name

    def partition(self) -> int:
        return self.partition_id

    def offset(self) -> int:
        return self.offset_value

    def value(self) -> bytes:
        return self.payload


def _records(dataset: Path, kafka: KafkaSettings, limit: int) -> list[_Record]:
    pair = load_dataset(dataset)
    changes, seeds = Codec(TripleChange), Codec(Label)
    out = [_Record(kafka.triples_topic, i % 6, i, changes.encode(c))
           for i, c in enumerate(triple_changes(pair, ReplayOrder.SHUFFLE, 7))]
    out += [_Record(kafka.labels_topic, 0, i, seeds.encode(x))
            for i, x in enumerate(labels(pair))]
    return out[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("../shared/datasets/dbp15k/zh_en"))
    parser.add_argument("--records", type=int, default=1 << 30)
    args = parser.parse_args()
    kafka, settings = KafkaSettings(), EngineSettings()
    records = _records(args.dataset, kafka, args.records)
    codec = BatchCodec(kafka, CodecSettings())
    gc.disable()
    took: dict[str, float] = {}
    mark = time.process_time()

    def lap(stage: str) -> None:
        nonlocal mark
        now = time.process_time()
        took[stage], mark = now - mark, now

    batch = codec.decode(records)  # type: ignore[arg-type]
    lap("decode")
    with tempfile.TemporaryDirectory() as tmp, StateStore(
            StoreSettings(path=Path(tmp))) as store, store.transaction() as tx:
        mark = time.process_time()
        admit(tx, batch, codec, 1_000_000)
        lap("admit")
        graphs = (MutableGraph("A", settings.graph_ids[0]),
                  MutableGraph("B", settings.graph_ids[1]))
        delta = StateDelta()
        apply_changes(delta, graphs, settings, batch.changes)
        lap("apply")
        write_delta(tx, delta)
        lap("write")
        tx.commit()
        lap("commit")
    print(f"{len(records)} records, CPU seconds:",
          " ".join(f"{k} {v:.3f}" for k, v in took.items()), f"total {sum(took.values()):.3f}")


if __name__ == "__main__":
    main()
