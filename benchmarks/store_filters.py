"""Point lookups on a large table with whole vs partitioned index and filter blocks.

    python benchmarks/store_filters.py [--keys 8000000] [--lookups 200000] [--work DIR]

Writes ``--keys`` random triple-shaped keys (19 bytes, empty values, as ``Table.FORWARD``) into
one store through ``Database.write_tables`` in batches, so RocksDB flushes and compacts them into
64 MB table files as the service's load does; then, for each layout, reopens the store and times
lookups of half present, half absent keys in random order, as single ``get`` calls and as
``get_many`` of 1,000 keys: wall time, CPU split into user and system, and minor page faults.
Each layout is written into its own directory with the same keys, so the rows differ only in
``store.partition_index_and_filters`` (decision 0129). Prints one JSON object a layout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import time
from pathlib import Path

import numpy as np

from stream_align.store.database import Database
from stream_align.store.keys import Table
from stream_align.store.settings import StoreSettings

KEY_BYTES = 19


def _keys(rng: np.random.Generator, count: int) -> np.ndarray:
    return rng.integers(0, 256, size=(count, KEY_BYTES), dtype=np.uint8)


def _load(settings: StoreSettings, keys: np.ndarray, batch: int) -> float:
    start = time.perf_counter()
    db = Database(settings)
    for lo in range(0, len(keys), batch):
        rows = {row.tobytes(): b"" for row in keys[lo:lo + batch]}
        db.write_tables([(Table.FORWARD, rows)])
    db.close()
    return time.perf_counter() - start


def _lookups(settings: StoreSettings, probes: list[bytes], batch: int) -> dict:
    db = Database(settings)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    found = 0
    if batch == 1:
        found = sum(db.get(Table.FORWARD, key) is not None for key in probes)
    for lo in range(0, len(probes) if batch > 1 else 0, batch):
        found += sum(v is not None for v in db.get_many(Table.FORWARD, probes[lo:lo + batch]))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    db.close()
    return {"lookups": len(probes), "found": found, "wall_s": round(wall, 3),
            "user_s": round(after.ru_utime - before.ru_utime, 3),
            "sys_s": round(after.ru_stime - before.ru_stime, 3),
            "minor_faults": after.ru_minflt - before.ru_minflt,
            "lookups_per_cpu_s": round(len(probes) / max(
                after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, 1e-9))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=8_000_000)
    parser.add_argument("--lookups", type=int, default=200_000)
    parser.add_argument("--batches", default="1,1000",
                        help="keys a lookup call, comma-separated (1: a single get)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/store_filters"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    keys = _keys(rng, args.keys)
    absent = _keys(rng, args.lookups // 2)
    probes = [row.tobytes() for row in keys[rng.choice(len(keys), args.lookups // 2)]]
    probes += [row.tobytes() for row in absent]
    rng.shuffle(probes)
    for partitioned in (False, True):
        path = args.work / f"partitioned-{partitioned}"
        shutil.rmtree(path, ignore_errors=True)
        settings = StoreSettings(path=path, partition_index_and_filters=partitioned)
        load_s = _load(settings, keys, 100_000)
        tables = sorted(path.glob("*.sst"))
        row = {"partition_index_and_filters": partitioned, "keys": args.keys,
               "load_s": round(load_s, 1), "table_files": len(tables),
               "largest_table_mb": round(max(os.path.getsize(t) for t in tables) / 2**20, 1)}
        for batch in (int(b) for b in args.batches.split(",")):
            print(json.dumps(row | {"batch": batch} | _lookups(settings, probes, batch)),
                  flush=True)


if __name__ == "__main__":
    main()
