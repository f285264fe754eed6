"""``stream-align eval``: measure one trained model and write its report."""

from __future__ import annotations

import argparse
from pathlib import Path

from stream_align.cli.benchmark import add_evaluation_arguments, execute


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate one trained model and write JSON, Markdown and a PR-curve PNG",
        description="The benchmark's measurements for a single model artifact: ranking over all "
        "test targets, Hits@1 after one-to-one assignment, and the paper's pair protocol.")
    parser.add_argument("--model", type=Path, required=True, metavar="MODEL_DIR",
                        help="trained model artifact directory (from `stream-align train`)")
    add_evaluation_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return execute(args, ("model",), (args.model,))
