"""The ``stream-align`` command line: one module per subcommand, registered here.

Each module in :data:`COMMANDS` exposes ``register(subparsers)``, adding its parser and setting
``func`` to a callable ``(args) -> int``. Only the CLI reads the environment and config files;
everything below it takes typed settings objects.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from stream_align import __version__

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = (
    "stream_align.cli.admin",
    "stream_align.cli.replay",
    "stream_align.cli.consume",
    "stream_align.cli.summary",
    "stream_align.cli.train",
    "stream_align.cli.align",
    "stream_align.cli.run",
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
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
