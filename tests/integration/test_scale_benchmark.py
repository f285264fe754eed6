"""`benchmarks/scale.py` end to end at a small N: grown data, a fresh broker, the real service.

Checks the contract (the last line is one JSON object with the agreed fields, each measured),
not speed: limits belong in the benchmark's numbers, not in a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from synthetic_dataset import write_synthetic_dataset

from stream_align.cli import main

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def test_scale_benchmark_prints_the_contract(tmp_path: Path) -> None:
    seed = write_synthetic_dataset(tmp_path / "seed")
    model = tmp_path / "model"
    assert main(["train", "--dataset", str(seed), "--out", str(model), "--epochs", "2",
                 "--hidden-dim", "16", "--threads", "1"]) == 0
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--entities-per-side", "1500",
         "--rate", "50", "--events", "150", "--seed-dataset", str(seed), "--model", str(model),
         "--work", str(tmp_path / "work"), "--idle", "3",
         "--max-rss-gb", "4"], capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["entities_per_side"] == 1500 and result["rate"] == 50
    assert result["load_triples"] + 150 == result["triples_total"]
    for key in ("rss_bytes_per_entity", "load_triples_per_s", "restore_s"):
        assert result[key] > 0, key
    assert 0 <= result["freshness_p50_ms"] <= result["freshness_p99_ms"]
    assert result["alignments"] > 0
