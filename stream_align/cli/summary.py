"""``stream-align summary``: alignments found, precision/recall against gold, freshness."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from stream_align.cli.options import add_config_argument

if TYPE_CHECKING:
    from stream_align.events.codec import CodecSettings
    from stream_align.service.settings import KafkaSettings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "summary", help="summarise the current alignments against a dataset's gold pairs",
        description="Read the compacted alignments topic (current state) and the alignment "
        "event log, and print: alignments found, precision/recall/F1 on the dataset's gold "
        "test pairs, and freshness percentiles (triple produced → alignment event produced).")
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR",
                        help="the dataset that was replayed")
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--since-ms", type=int, default=0, metavar="EPOCH_MS",
                        help="freshness only of events whose newest cause was produced at or "
                        "after this time (e.g. the start of a rate-limited tail after a bulk "
                        "load, so the load's backlog does not count)")
    add_config_argument(parser)
    parser.set_defaults(func=run)


def _freshness_ms(kafka: KafkaSettings, codec: CodecSettings, since_ms: int) -> list[float]:
    """Per alignment event: its produce time − the newest produce time of its causes."""
    from stream_align.events.codec import Codec
    from stream_align.events.contracts import AlignmentEvent, TripleChange
    from stream_align.events.errors import DecodeError
    from stream_align.service.topic_reader import read_to_end

    changes, events = Codec(TripleChange, codec), Codec(AlignmentEvent, codec)
    produced = {}
    for msg in read_to_end(kafka, kafka.triples_topic):
        try:
            produced[changes.decode(msg.value()).event_id] = msg.timestamp()[1]
        except DecodeError:
            continue  # dead-lettered input causes nothing
    out = []
    for msg in read_to_end(kafka, kafka.alignment_events_topic):
        causes = [produced[c] for c in events.decode(msg.value()).cause if c in produced]
        if causes and max(causes) >= since_ms:
            out.append(float(msg.timestamp()[1] - max(causes)))
    return out


def run(args: argparse.Namespace) -> int:
    from stream_align.cli.config import load_settings
    from stream_align.eval.datasets.loader import load_dataset
    from stream_align.eval.stream_summary import summarise
    from stream_align.events.codec import Codec
    from stream_align.events.contracts import AlignmentEvent
    from stream_align.service.topic_reader import latest_by_key

    settings = load_settings(args.config)
    codec = Codec(AlignmentEvent, settings.codec)
    pair = load_dataset(args.dataset)
    current = {}
    for value in latest_by_key(settings.kafka, settings.kafka.alignments_topic).values():
        event = codec.decode(value)
        current[event.left] = event.right
    fresh = _freshness_ms(settings.kafka, settings.codec, args.since_ms)
    summary = summarise(pair, current, fresh)
    if args.json:
        print(json.dumps(summary.as_dict()))
        return 0
    print(f"alignments found:     {summary.alignments}")
    print(f"on gold test pairs:   {summary.correct} correct of {summary.predicted_on_test} "
          f"predicted, {summary.test_pairs} gold")
    print(f"precision / recall / F1: {summary.precision:.3f} / {summary.recall:.3f} / "
          f"{summary.f1:.3f}")
    if summary.freshness_ms_p50 is not None:
        print(f"freshness p50 / p95 / p99: {summary.freshness_ms_p50:.0f} / "
              f"{summary.freshness_ms_p95:.0f} / {summary.freshness_ms_p99:.0f} ms")
    return 0
