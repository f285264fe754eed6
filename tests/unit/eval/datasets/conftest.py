"""Each real benchmark loaded once per session (``datasets_dir`` comes from ``tests/conftest.py``).

Loading goes through :func:`load_dataset`, so every test that uses these fixtures also exercises
layout detection.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stream_align.eval.datasets.loader import load_dataset
from stream_align.graph import GraphPair

ER_DATASETS = ("itunes_amazon", "dblp_acm", "amazon_google")


@pytest.fixture(scope="session")
def dbp15k(datasets_dir: Path) -> GraphPair:
    return load_dataset(datasets_dir / "dbp15k" / "zh_en")


@pytest.fixture(scope="session")
def srprs(datasets_dir: Path) -> GraphPair:
    return load_dataset(datasets_dir / "srprs" / "dbp_wd_15k_V1")


@pytest.fixture(scope="session")
def contea(datasets_dir: Path) -> GraphPair:
    return load_dataset(datasets_dir / "contea" / "ZH-EN")


@pytest.fixture(scope="session")
def er(datasets_dir: Path) -> dict[str, GraphPair]:
    return {name: load_dataset(datasets_dir / "er_benchmarks" / name) for name in ER_DATASETS}
