"""``stream-align topics``, ``schemas`` and ``config``: set up Kafka and the registry, explain
the settings."""

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
    schemas = subparsers.add_parser(
        "schemas", help="check (or register) the flow's schemas in the Schema Registry",
        description="For every topic of the flow: the subject its schema is registered under "
        "(codec.subject_name_strategy) and the registered id. Exits 1 if one is missing. "
        "With --register: register the missing ones (what `run` needs when "
        "codec.auto_register_schemas is off, the default).")
    schemas.add_argument("--register", action="store_true", help="register missing schemas")
    add_config_argument(schemas)
    schemas.set_defaults(func=run_schemas)
    config = subparsers.add_parser(
        "config", help="list every setting with its environment variable, or show the values",
        description="Without --show: every setting's environment variable, type, default and "
        "description. With --show: the effective values (secrets masked: secret settings, "
        "values under secret-looking keys, URL user info and token query parameters).")
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


def run_schemas(args: argparse.Namespace) -> int:
    from stream_align.cli.config import load_settings
    from stream_align.cli.errors import ConfigError
    from stream_align.events.codec import Codec, Encoding
    from stream_align.events.contracts import AlignmentEvent, DeadLetter, Label, TripleChange
    from stream_align.events.errors import EncodeError, Reason
    from stream_align.events.schema_registry import subject_name

    settings = load_settings(args.config)
    if settings.codec.schema_registry_url is None:
        raise ConfigError("codec.schema_registry_url is not set: there is no registry to check")
    codec = settings.codec.model_copy(
        update={"encoding": Encoding.AVRO, "auto_register_schemas": args.register})
    kafka, rows, missing = settings.kafka, [], 0
    for topic, contract in ((kafka.triples_topic, TripleChange), (kafka.labels_topic, Label),
                            (kafka.alignment_events_topic, AlignmentEvent),
                            (kafka.alignments_topic, AlignmentEvent),
                            (kafka.dead_letter_topic, DeadLetter),
                            (kafka.labels_dead_letter_topic, DeadLetter)):
        try:
            schema_id = Codec(contract, codec, topic=topic).prepare()
        except EncodeError as exc:
            if exc.reason is not Reason.SCHEMA_NOT_REGISTERED:
                raise
            schema_id, missing = None, missing + 1
        rows.append({"topic": topic, "record": contract.avro_name, "id": schema_id,
                     "subject": subject_name(codec.subject_name_strategy, topic,
                                             contract.avro_name)})
    print(json.dumps({"schemas": rows, "missing": missing}, indent=2))
    return 1 if missing else 0


def run_config(args: argparse.Namespace) -> int:
    from stream_align.cli.config import describe, load_settings
    from stream_align.secrets import mask_secrets

    if args.show:
        shown = mask_secrets(load_settings(args.config).model_dump(mode="json"))
        print(json.dumps(shown, indent=2))
        return 0
    for env, type_name, default, description in describe():
        print(f"{env}\n    {type_name}, default {default}\n    {description}")
    return 0
