"""``stream-align topics`` and ``stream-align config``: set up Kafka, explain the settings."""

from __future__ import annotations

import argparse
import json

from stream_align.cli.options import add_config_argument


def register(subparsers: argparse._SubParsersAction) -> None:
    topics = subparsers.add_parser(
        "topics", help="create the Kafka topics (idempotent) and check their settings",
        description="Create every topic of the flow that does not exist yet with its configured "
        "settings (kafka.topics.<role>.*: the inputs kg.triples and kg.labels keep every "
        "record so a lost state volume can be rebuilt, kg.alignments compacted), then check "
        "every topic as `run` does at start-up. Existing topics are never altered. Prints JSON: "
        "the topics, which were created now, errors and warnings; exit code 1 on an error.")
    topics.add_argument("--check", action="store_true",
                        help="only check (needs DESCRIBE and DESCRIBE_CONFIGS, not CREATE)")
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
    from stream_align.service.topics import check_topics, ensure_topics, topic_plan

    kafka = load_settings(args.config).kafka
    created = [] if args.check else ensure_topics(kafka)
    findings = check_topics(kafka)
    report = {
        "topics": {topic.name: {"role": topic.role, "partitions": topic.partitions,
                                "replication_factor": topic.replication_factor,
                                "config": topic.config} for topic in topic_plan(kafka)},
        "created": created,
        "errors": [str(f) for f in findings if f.level == "error"],
        "warnings": [str(f) for f in findings if f.level == "warning"],
    }
    print(json.dumps(report, indent=1))
    return 1 if report["errors"] else 0


def run_config(args: argparse.Namespace) -> int:
    from stream_align.cli.config import describe, load_settings

    if args.show:
        print(load_settings(args.config).model_dump_json(indent=2))
        return 0
    for env, type_name, default, description in describe():
        print(f"{env}\n    {type_name}, default {default}\n    {description}")
    return 0
