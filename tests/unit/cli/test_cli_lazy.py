"""Building the parser and printing help loads no heavy module (the lazy-import rule of
``stream_align/cli/__init__.py``). Run in a fresh interpreter: this test process may already
hold torch from other tests."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("torch", "faiss", "rocksdict", "confluent_kafka", "sklearn", "scipy",
         "opentelemetry.sdk", "numpy")

PROBE = """
import contextlib, io, json, sys
from stream_align.cli import build_parser, main
build_parser()
for argv in [["--help"]] + [[name, "--help"] for name in sys.argv[1:]]:
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exc:
            assert exc.code == 0, (argv, exc.code)
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after(argv: list[str]) -> set[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE, *argv], env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    return set(json.loads(out))


def _subcommands() -> list[str]:
    from stream_align.cli import build_parser

    action = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(action.choices)


def test_help_of_every_subcommand_loads_no_heavy_module() -> None:
    loaded = _modules_after(_subcommands())
    assert "stream_align.cli.align" in loaded  # the probe did build every parser
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY or m in HEAVY)
    assert not heavy, f"--help imported {heavy[:5]}"
