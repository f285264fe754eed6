"""Reads of a table known to hold no row answer None without asking RocksDB
(``Database._holds_none``), and never once a write may have put a row in it: a table probed
empty then written is read again, a table emptied by deletes is still read, a reopened store
probes afresh, a closed store still refuses."""

from pathlib import Path

import pytest

from stream_align.store import StoreSettings
from stream_align.store.database import Database
from stream_align.store.errors import StoreClosedError
from stream_align.store.keys import Table


class _Counted:
    """A column family that counts its reads (``get``: point or multi)."""

    def __init__(self, rows: object) -> None:
        self.rows, self.reads = rows, 0

    def get(self, key: object) -> object:
        self.reads += 1
        return self.rows.get(key)  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> object:  # keys(), flush() ... as the table's
        return getattr(self.rows, name)


def _counted(db: Database, table: Table) -> _Counted:
    counted = _Counted(db._tables[table])
    db._tables[table] = counted  # type: ignore[assignment]
    return counted


def test_an_empty_table_is_not_read_until_a_row_is_written(settings: StoreSettings) -> None:
    db = Database(settings)
    forward = _counted(db, Table.FORWARD)
    assert db.get_many(Table.FORWARD, [b"a", b"b"]) == [None, None]
    assert db.get(Table.FORWARD, b"a") is None
    assert forward.reads == 0
    db.write([(Table.FORWARD, b"a", b"1"), (Table.REVERSE, b"r", None)])
    assert db.get_many(Table.FORWARD, [b"a", b"b"]) == [b"1", None]
    assert db.get(Table.FORWARD, b"a") == b"1"
    assert forward.reads == 2
    db.write([(Table.FORWARD, b"a", None)])  # empty again: still read, never wrong
    assert db.get(Table.FORWARD, b"a") is None
    assert forward.reads == 3
    db.close()
    with pytest.raises(StoreClosedError):
        db.get(Table.FORWARD, b"a")
    with pytest.raises(StoreClosedError):
        db.get_many(Table.DEGREE, [b"a"])


def test_a_reopened_store_probes_its_tables_again(tmp_path: Path) -> None:
    settings = StoreSettings(path=tmp_path / "db", block_cache_mb=8, memtable_budget_mb=8)
    db = Database(settings)
    assert db.get(Table.DEGREE, b"e") is None
    db.write([(Table.DEGREE, b"e", b"7")])
    db.close()
    db = Database(settings)
    degree = _counted(db, Table.DEGREE)
    assert db.get_many(Table.DEGREE, [b"e", b"f"]) == [b"7", None]
    assert degree.reads == 1
    assert db.get_many(Table.APPLIED, [b"x"]) == [None]
    db.close()
