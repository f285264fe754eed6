"""``stream-align align`` shows its steps on stderr and keeps stdout for the JSON summary."""

import json
from pathlib import Path

import pytest

from stream_align.cli import main
from tests.integration.synthetic_dataset import write_synthetic_dataset
from tests.unit.cli.cli_subprocess import run_cli


def test_align_shows_progress_on_stderr(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    dataset = write_synthetic_dataset(tmp_path / "data", n=40)
    model = tmp_path / "model"
    assert main(["train", "--dataset", str(dataset), "--out", str(model), "--epochs", "1",
                 "--hidden-dim", "8", "--threads", "1"]) == 0
    out = tmp_path / "pairs.jsonl"
    result = run_cli("align", "--model", str(model), "--dataset", str(dataset), "--out", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["pairs"] == len(out.read_text().splitlines()) > 0
    assert "align: 8/8 steps" in result.stderr
    for step in ("load model", "embed graphs", "score pairs", "one-to-one"):
        assert step in result.stderr
    capsys.readouterr()
    assert main(["align", "--model", str(model), "--dataset", str(dataset), "--out", str(out),
                 "--no-progress"]) == 0
    assert "steps" not in capsys.readouterr().err
