"""Run ``stream-align`` as an operator does: a fresh process, its exit code and its stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def run_cli(*argv: str, env: dict[str, str] | None = None, timeout: float = 120.0
            ) -> subprocess.CompletedProcess[str]:
    """``python -m stream_align.cli ARGV`` with this checkout first on the path."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("STREAM_ALIGN_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "stream_align.cli", *argv], env=full_env,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int,
                          *fragments: str) -> str:
    """The process failed with ``code`` and said why in one line, without a traceback."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("stream-align:")]
    assert result.returncode == code, result.stderr[-2000:]
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert len(lines) == 1 and lines[0].startswith("stream-align: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
