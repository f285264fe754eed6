"""Command-line options shared by several subcommands, importable without any heavy module.

``register`` functions run for every ``stream-align --help``, so what they import must stay
light: this module needs only ``argparse``. The settings classes live in
:mod:`stream_align.cli.config`, imported by a subcommand's run function.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ENV_PREFIX = "STREAM_ALIGN_"
CONFIG_ENV = "STREAM_ALIGN_CONFIG"


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                        help=f"TOML config file (also ${CONFIG_ENV}); environment variables "
                        f"{ENV_PREFIX}<SECTION>__<FIELD> override it. See `stream-align config`.")


NEIGHBOURHOOD_RULE = (
    ("--neighbourhood-named", "named entities with no match are matched by their neighbours too"),
    ("--neighbourhood-csls", "a support tie goes to the model's pair only where its CSLS is "
     "positive too"),
)
"""The neighbourhood rule's switches (decision 0057) and what each does."""


def add_neighbourhood_rule_arguments(parser: argparse.ArgumentParser) -> None:
    """:data:`NEIGHBOURHOOD_RULE`'s switches, for ``align`` and ``eval-snapshots`` alike."""
    for flag, does in NEIGHBOURHOOD_RULE:
        parser.add_argument(flag, action="store_true",
                            help=f"with --neighbourhood-rounds: {does} (decision 0057)")
