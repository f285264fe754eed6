"""Running ``stream-align run`` as a subprocess on the session broker, and reading what it wrote.

Shared by the service tests: a config file per test, the service started (and killed) as the
CLI an operator runs, a replay of the synthetic dataset, and the compacted current state.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from stream_align.cli import main
from stream_align.events.codec import Codec
from stream_align.events.contracts import AlignmentEvent
from stream_align.service.settings import KafkaSettings
from stream_align.service.topic_reader import latest_by_key

Alignment = dict[str, tuple[str, float]]


def write_config(path: Path, kafka: KafkaSettings, batch: int, slice_rows: int | None = None
                 ) -> Path:
    """``slice_rows``: ``runner.commit_slice_rows`` and ``runner.commit_slice_outbox`` (small:
    most batches commit their candidate rows and outbox entries in slices first, so kills land
    between slices too)."""
    lines = ["[kafka]"] + [f"{k} = {json.dumps(v)}" for k, v in kafka.model_dump().items()
                           if v is not None and not isinstance(v, dict)]
    # min_score_delta 0: every score move is published, so the compacted topic holds the
    # current scores (by default it lags them by up to the delta) and can be compared at 1e-5.
    lines += ["[observability]", "http_port = 0", "log_level = \"WARNING\"",
              "[runner]", f"batch_max_records = {batch}"]
    lines += [f"commit_slice_rows = {slice_rows}", f"commit_slice_outbox = {slice_rows}"
              ] if slice_rows else []
    lines += ["[engine]", "min_score_delta = 0.0"]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_service(config: Path, model: Path, state: Path, log: Path,
                  until_idle: float | None = None) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "stream_align.cli", "run", "--config", str(config),
           "--model", str(model), "--state", str(state)]
    if until_idle is not None:
        cmd += ["--until-idle", str(until_idle)]
    return subprocess.Popen(cmd, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def run_to_idle(config: Path, model: Path, state: Path, log: Path) -> None:
    proc = start_service(config, model, state, log, until_idle=8)
    assert proc.wait(timeout=600) == 0, log.read_text()[-3000:]


def replay(dataset: Path, config: Path, *extra: str) -> None:
    assert main(["replay", "--dataset", str(dataset), "--order", "shuffle", "--seed", "5",
                 "--no-progress", "--config", str(config), *extra]) == 0


def current(kafka: KafkaSettings) -> Alignment:
    codec = Codec(AlignmentEvent)
    events = [codec.decode(v) for v in latest_by_key(kafka, kafka.alignments_topic).values()]
    return {e.left: (e.right, e.score) for e in events}


def assert_same(got: Alignment, want: Alignment) -> None:
    assert {k: v[0] for k, v in got.items()} == {k: v[0] for k, v in want.items()}
    for left, (_, score) in got.items():
        assert score == pytest.approx(want[left][1], abs=1e-5)
