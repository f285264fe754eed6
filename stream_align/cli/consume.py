"""``stream-align consume``: read the triples topic, dead-letter bad records, summarise."""

from __future__ import annotations

import argparse
import json

from stream_align.cli.options import add_config_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "consume", help="consume and validate the triples topic; bad records → dead letters",
        description="Join the consumer group on the triples topic, decode and validate every "
        "record, send malformed ones (with the reason) to the dead-letter topic, commit offsets, "
        "and print a JSON summary: records by op and graph, dead letters by reason.")
    parser.add_argument("--until-idle", type=float, default=5.0, metavar="SECONDS",
                        help="stop after this long without new records (default: %(default)s)")
    parser.add_argument("--max-records", type=int, default=None, help="stop after this many")
    parser.add_argument("--graphs", default="A,B", help="accepted graph ids (default: %(default)s)")
    add_config_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stream_align.cli.config import load_settings
    from stream_align.service.intake import TripleIntake

    settings = load_settings(args.config)
    intake = TripleIntake(settings.kafka, settings.codec, graphs=tuple(args.graphs.split(",")))
    try:
        summary = intake.run(lambda event: None, until_idle=args.until_idle,
                             max_records=args.max_records)
    finally:
        intake.close()
    print(json.dumps(summary.as_dict()))
    return 0
