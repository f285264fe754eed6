"""``stream-align topics`` and ``stream-align config``: set up Kafka, explain the settings."""

from __future__ import annotations

import argparse
import json

from stream_align.cli.options import add_config_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    topics = subparsers.add_parser(
        "topics", help="create the Kafka topics (idempotent)",
        description="Create every topic of the flow that does not exist yet, with its config "
        "(kg.alignments compacted). Prints the topics and which were created now.")
    add_config_argument(topics)
    topics.set_defaults(func=run_topics)
    config = subparsers.add_parser(
        "config", help="list every setting with its environment variable, or show the values",
        description="Without --show: every setting's environment variable, type, default and "
        "description. With --show: the effective values (secrets masked).")
    config.add_argument("--show", action="store_true", help="print the effective settings")
    add_config_argument(config)
    config.set_defaults(func=run_config)


def run_topics(args: argparse.Namespace) -> int:
    from stream_align.cli.config import load_settings
    from stream_align.service.topics import ensure_topics, topic_configs

    settings = load_settings(args.config)
    created = ensure_topics(settings.kafka)
    print(json.dumps({"topics": sorted(topic_configs(settings.kafka)), "created": created}))
    return 0


def run_config(args: argparse.Namespace) -> int:
    from stream_align.cli.config import describe, load_settings

    if args.show:
        print(load_settings(args.config).model_dump_json(indent=2))
        return 0
    for env, type_name, default, description in describe():
        print(f"{env}\n    {type_name}, default {default}\n    {description}")
    return 0
