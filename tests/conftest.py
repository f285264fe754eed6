"""Shared fixtures: the real Kafka broker and the benchmark datasets.

The broker is a real Apache Kafka 4 (KRaft) process started with ``tools/kafka_broker.py`` on a
free 127.0.0.1 port for the whole session and stopped at the end; integration tests get their
own topic names so they never see each other's records.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stream_align.service.settings import KafkaSettings

ROOT = Path(__file__).resolve().parents[1]
BROKER_TOOL = ROOT / "tools" / "kafka_broker.py"


def _broker_module():
    """``tools/kafka_broker.py`` as a module (a standalone script, not a package)."""
    spec = importlib.util.spec_from_file_location("kafka_broker", BROKER_TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    path = Path(os.environ.get("STREAM_ALIGN_DATASETS", ROOT.parent / "shared" / "datasets"))
    if not path.is_dir():
        pytest.fail(f"benchmark datasets not found at {path} (set STREAM_ALIGN_DATASETS)")
    return path


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a real single-node broker for the session; yield its bootstrap address."""
    data_dir = tmp_path_factory.mktemp("kafka")
    port = _broker_module().free_port_pair()
    tool = [sys.executable, str(BROKER_TOOL)]
    subprocess.run([*tool, "start", "--port", str(port), "--data-dir", str(data_dir)], check=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([*tool, "stop", "--data-dir", str(data_dir)], check=True)


@pytest.fixture
def kafka_settings(kafka_bootstrap: str) -> KafkaSettings:
    """Settings pointing at the session broker, with topic names unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    return KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        triples_topic=f"kg.triples.{suffix}",
        labels_topic=f"kg.labels.{suffix}",
        alignment_events_topic=f"kg.alignment-events.{suffix}",
        alignments_topic=f"kg.alignments.{suffix}",
        dead_letter_topic=f"kg.triples.dlq.{suffix}",
        labels_dead_letter_topic=f"kg.labels.dlq.{suffix}",
        consumer_group=f"stream-align-{suffix}",
        partitions=2,
    )


@pytest.fixture
def kafka_config_file(kafka_settings: KafkaSettings, tmp_path: Path) -> Path:
    """A TOML config file for the CLI, pointing at ``kafka_settings``."""
    lines = ["[kafka]"]
    for name, value in kafka_settings.model_dump(exclude_defaults=True).items():
        if not isinstance(value, dict):  # nested: per-topic settings
            lines.append(f"{name} = {json.dumps(value)}")  # JSON scalars are TOML scalars
    path = tmp_path / "stream-align.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
