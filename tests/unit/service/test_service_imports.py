"""The service starts without scikit-learn: importing it pulls in ``sklearn.utils`` and with it
``scipy.stats``, ≈ 1.2 s of CPU at every start, and only training needs it (decision 0085)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_the_service_and_engine_import_no_sklearn() -> None:
    code = ("import sys, stream_align.cli, stream_align.cli.run\n"
            "from stream_align.service.runner import AlignmentService\n"
            "from stream_align.engine.engine import AlignmentEngine\n"
            "from stream_align.model.artifact import load\n"
            "from stream_align.store.state_store import StateStore\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'"
            " or m.startswith('scipy.stats')))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "[]"
