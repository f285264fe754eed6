"""``stream-align replay``: publish a benchmark dataset as TripleChange and Label events."""

from __future__ import annotations

import argparse
import json
from itertools import islice
from pathlib import Path

from stream_align.cli.options import add_config_argument
from stream_align.eval.replay_order import ReplayOrder


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay", help="publish a dataset as triple-change events (and its seed labels)",
        description="Publish a benchmark dataset (DBP15K, SRPRS, ContEA, ER tables) to the "
        "triples topic: UPSERT_ENTITY for every entity (names, types, attributes), then "
        "ADD_TRIPLE for every triple; then the training pairs as Labels. Event ids are derived "
        "from the content, so a second replay publishes the same ids. Prints the counts and "
        "exits non-zero if they differ from the dataset's.")
    parser.add_argument("--dataset", type=Path, required=True, metavar="DIR",
                        help="dataset directory, e.g. ../shared/datasets/dbp15k/zh_en")
    parser.add_argument("--order", choices=[o.value for o in ReplayOrder], default="file",
                        help="file order, seeded shuffle (upserts first), or ContEA snapshot "
                        "order (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="shuffle seed (entity keys do not "
                        "depend on it: they match what `stream-align train` saw)")
    parser.add_argument("--rate", type=float, default=None, metavar="EV/S",
                        help="limit to this many events per second (default: as fast as possible)")
    parser.add_argument("--hide-names", action="store_true",
                        help="publish entities without names (structure-only track)")
    parser.add_argument("--skip", type=int, default=0, metavar="N",
                        help="leave out the first N triple changes of the order (with --limit: "
                        "publish a graph in parts, e.g. load first, then stream the rest)")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="publish at most N triple changes (after --skip)")
    parser.add_argument("--no-labels", action="store_true", help="do not publish seed labels")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stream_align.cli.config import load_settings
    from stream_align.eval.datasets.loader import load_dataset
    from stream_align.eval.replay import expected_counts, labels, triple_changes
    from stream_align.service.producer import EventProducer
    from stream_align.service.publish import publish
    from stream_align.service.topics import ensure_topics

    settings = load_settings(args.config)
    pair = load_dataset(args.dataset, hide_names=args.hide_names)
    expected = expected_counts(pair)
    ensure_topics(settings.kafka)
    producer = EventProducer(settings.kafka, settings.codec)
    order = ReplayOrder(args.order)
    total = expected.entities + expected.triples
    stop = total if args.limit is None else min(total, args.skip + args.limit)
    wanted = max(0, stop - args.skip)
    published = publish(producer, settings.kafka.triples_topic,
                        islice(triple_changes(pair, order, args.seed), args.skip, stop),
                        key=lambda e: e.key, total=wanted, rate=args.rate,
                        desc="triples", progress=not args.no_progress)
    label_count = 0
    if not args.no_labels:
        label_count = publish(producer, settings.kafka.labels_topic, labels(pair),
                              key=lambda e: e.left, total=expected.labels, desc="labels",
                              progress=not args.no_progress)
    summary = {"dataset": pair.name, "order": order.value, "published_triple_changes": published,
               "expected_entities": expected.entities, "expected_triples": expected.triples,
               "skipped": args.skip, "published_labels": label_count}
    print(json.dumps(summary))
    ok = published == wanted
    ok = ok and (args.no_labels or label_count == expected.labels)
    return 0 if ok else 1
