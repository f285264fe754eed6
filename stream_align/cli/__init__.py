"""The ``stream-align`` command line: one module per subcommand, registered here.

Each module in :data:`COMMANDS` exposes ``register(subparsers)``, adding its parser and setting
``func`` to a callable ``(args) -> int``. Only the CLI reads the environment and config files;
everything below it takes typed settings objects.

**Lazy imports — the rule for every subcommand module.** ``--help`` builds every subcommand's
parser, so a module's top level and its ``register`` may import only light things: ``argparse``,
``pathlib``, :mod:`stream_align.cli.options` (``add_config_argument``) and, for option defaults,
a stage's ``settings`` module. Everything else — :mod:`stream_align.cli.config` (all settings),
torch, FAISS, RocksDB, confluent-kafka, the engine, the service — is imported *inside* the
function set as ``func``::

    def register(subparsers):
        parser = subparsers.add_parser("backup", help="...")
        add_config_argument(parser)
        parser.set_defaults(func=run)

    def run(args):
        from stream_align.cli.config import load_settings   # heavy imports here
        from stream_align.store.state_store import StateStore
        ...

``tests/unit/cli/test_cli_lazy.py`` fails when ``--help`` loads torch, FAISS, RocksDB or
confluent-kafka (the cost it avoids: docs/BENCHMARKS.md, "CLI start-up").
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import os
import sys
from typing import NoReturn

from stream_align import __version__
from stream_align.cli.exit_codes import ExitCode, classify

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = (
    "stream_align.cli.admin",
    "stream_align.cli.replay",
    "stream_align.cli.consume",
    "stream_align.cli.summary",
    "stream_align.cli.train",
    "stream_align.cli.align",
    "stream_align.cli.run",
    "stream_align.cli.state",
    "stream_align.cli.eval",
    "stream_align.cli.benchmark",
    "stream_align.cli.eval_snapshots",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stream-align",
        description="Keep two knowledge graphs aligned while they change: triple changes in "
        "from Kafka, CG-MuAlign alignment events out.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; an expected failure is one line on stderr and its exit code."""
    args = build_parser().parse_args(argv)
    # Every command's library logs (librdkafka's lines, dead letters) go to stderr, readable;
    # stdout stays for results. `run` reconfigures from its settings (JSON by default).
    from stream_align.service.observability.logging import configure_logging

    configure_logging("WARNING", "console")
    try:
        code = int(args.func(args) or 0)
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except Exception as exc:
        failure = classify(exc)
        if failure is None:
            raise  # a bug: the traceback is what a report needs
        print(f"stream-align: error: {failure.message}", file=sys.stderr)
        return failure.code
    if argv is None and getattr(args, "exit_at_once", False):
        exit_at_once(code)
    return code


def exit_at_once(code: int) -> NoReturn:
    """End the process now: the exit handlers run (the tracer's last spans, the log handlers'
    flush), the interpreter's teardown does not.

    What a command that sets ``exit_at_once`` (``run``) holds when it returns — an engine's
    millions of objects, frozen off the collector (``service.collector``) and handed back to
    it at exit — the teardown would walk and free one by one: 1–2 s after the service's
    last log line, inside the bulk backlog's measured time, and on every restart (decision
    0079). The operating system takes the memory back at once; every file, the store and
    the Kafka clients are closed before the command returns. Only for the process's own
    entry (``main()`` without ``argv``): a caller in the same process (tests) returns."""
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
