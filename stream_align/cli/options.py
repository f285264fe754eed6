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
