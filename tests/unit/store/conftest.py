"""Fixtures: a real RocksDB store in a fresh temporary directory per test."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from stream_align.store import StateStore, StoreSettings


@pytest.fixture
def settings(tmp_path: Path) -> StoreSettings:
    return StoreSettings(path=tmp_path / "db", block_cache_mb=8, memtable_budget_mb=8)


@pytest.fixture
def store(settings: StoreSettings) -> Iterator[StateStore]:
    with StateStore(settings) as opened:
        yield opened
