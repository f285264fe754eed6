"""Table-file layouts: a store written with whole index/filter blocks reads back the same with
partitioned ones and the other way round (decision 0129: the setting changes only how new table
files are laid out, so an existing store needs no migration)."""

import numpy as np
import pytest

from stream_align.store.database import Database
from stream_align.store.keys import Table
from stream_align.store.settings import StoreSettings


@pytest.mark.parametrize("written, read", [(False, True), (True, False), (True, True)])
def test_a_store_reads_back_in_either_layout(tmp_path, written: bool, read: bool) -> None:
    rng = np.random.default_rng(7)
    keys = [row.tobytes() for row in rng.integers(0, 256, size=(20_000, 19), dtype=np.uint8)]
    absent = [row.tobytes() for row in rng.integers(0, 256, size=(500, 18), dtype=np.uint8)]

    def opened(partitioned: bool) -> Database:
        return Database(StoreSettings(path=tmp_path / "db", block_cache_mb=1,
                                      memtable_budget_mb=4, metadata_block_bytes=512,
                                      partition_index_and_filters=partitioned))

    db = opened(written)
    db.write_tables([(Table.FORWARD, {key: key[:3] for key in keys})])
    db.close()  # flushed into table files of the written layout
    db = opened(read)
    try:
        assert db.get_many(Table.FORWARD, keys[::7]) == [key[:3] for key in keys[::7]]
        assert [db.get(Table.FORWARD, key) for key in keys[:50]] == [key[:3] for key in keys[:50]]
        assert db.get_many(Table.FORWARD, absent) == [None] * len(absent)
    finally:
        db.close()
