"""``exit_at_once``: the exit handlers run and the output is flushed, the teardown does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from stream_align.cli import main

SCRIPT = """
import atexit, sys
from stream_align.cli import exit_at_once
class Held:  # what the command still holds when it returns: freed by the teardown
    def __del__(self):
        print("torn down", flush=True)
held = Held()
atexit.register(lambda: open(sys.argv[1], "w").write("handler ran"))
print("last line", end="")  # buffered: the exit flushes it
exit_at_once(3)
"""


def test_exit_at_once_runs_the_handlers_and_flushes_but_skips_the_teardown(tmp_path: Path):
    marker = tmp_path / "marker"
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(marker)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert marker.read_text() == "handler ran"
    assert done.stdout == "last line"  # flushed, and no "torn down": no teardown


def test_a_caller_in_the_same_process_gets_the_code_back(capsys) -> None:
    """``main`` with ``argv`` (a test, an embedding) returns: only the process's entry exits."""
    assert main(["config"]) == 0
    assert capsys.readouterr().out
