"""Which process can take a consistent RocksDB checkpoint of a database that is being written?

A writer commits atomic batches across two column families (500 keys in ``a`` plus, in
``default``, the count of keys written so far); a checkpoint is consistent iff the count it
holds equals its number of keys in ``a``. Modes: ``primary`` (the writer's own process, from a
second thread — what ``stream-align`` does), ``secondary`` and ``read_only`` (another process
opening the locked database, the only ways around RocksDB's lock). Small memtables force
flushes and compactions during the run. ``stall``: how long a checkpoint of a 400 MB database
to ``--to`` (another file system: a copy) holds up the Python thread that keeps running beside
it. Decision 0023 quotes the output.

    python benchmarks/checkpoint_consistency.py primary|secondary|read_only [--checkpoints N]
    python benchmarks/checkpoint_consistency.py stall --to /dev/shm/checkpoint-stall
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from rocksdict import AccessType, Checkpoint, DBRecoveryMode, Options, Rdict, WriteBatch


def _options(create: bool = False) -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(create)
    options.create_missing_column_families(create)
    options.set_write_buffer_size(256 << 10)
    options.set_wal_recovery_mode(DBRecoveryMode.point_in_time())
    return options


def write(db_path: Path, seconds: float, checkpoints: Path | None, count: int) -> None:
    """The writer; with ``checkpoints`` it also checkpoints itself from a second thread."""
    db = Rdict(str(db_path), _options(create=True), {"a": _options(create=True)})
    handle = db.get_column_family_handle("a")

    def checkpoint_loop() -> None:
        for n in range(count):
            time.sleep(seconds / (count + 1))
            started = time.perf_counter()
            Checkpoint(db).create_checkpoint(str(checkpoints / f"cp{n}"))  # type: ignore[operator]
            print(f"checkpoint {n}: {time.perf_counter() - started:.3f} s", flush=True)

    thread = threading.Thread(target=checkpoint_loop) if checkpoints else None
    if thread:
        thread.start()
    written, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline or (thread and thread.is_alive()):
        batch = WriteBatch(raw_mode=True)
        for _ in range(500):
            batch.put(f"k{written:010d}".encode(), b"x" * 200, handle)
            written += 1
        batch.put(b"count", str(written).encode())
        db.write(batch)
    db.close()


def checkpoint_from_outside(db_path: Path, out: Path, mode: str) -> None:
    access = (AccessType.secondary(str(out.parent.parent / f"secondary-{out.name}"))
              if mode == "secondary"
              else AccessType.read_only())
    db = Rdict(str(db_path), _options(), {"a": _options()}, access_type=access)
    if mode == "secondary":
        db.try_catch_up_with_primary()
    Checkpoint(db).create_checkpoint(str(out))
    db.close()


def stall(db_path: Path, to: Path) -> None:
    db = Rdict(str(db_path), _options(create=True))
    batch = WriteBatch(raw_mode=True)
    for n in range(400_000):
        batch.put(f"{n:016d}".encode(), os.urandom(1000))  # incompressible
    db.write(batch)
    db.flush()
    took: list[float] = []

    def checkpoint() -> None:
        started = time.perf_counter()
        Checkpoint(db).create_checkpoint(str(to))
        took.append(time.perf_counter() - started)

    thread = threading.Thread(target=checkpoint)
    thread.start()
    longest, last = 0.0, time.perf_counter()
    while thread.is_alive():
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    size = sum(f.stat().st_size for f in to.iterdir()) >> 20
    print(f"checkpoint of {size} MiB: {took[0]:.2f} s; longest pause of the other thread "
          f"{longest * 1000:.0f} ms")
    db.close()
    shutil.rmtree(to, ignore_errors=True)


def consistent(checkpoint: Path) -> bool:
    db = Rdict(str(checkpoint), _options(), {"a": _options()})
    try:
        count = int(db.get(b"count") or b"0")
        return count == sum(1 for _ in db.get_column_family("a").keys())  # noqa: SIM118
    finally:
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["primary", "secondary", "read_only", "stall", "_writer"])
    parser.add_argument("--to", type=Path, default=Path("/dev/shm/checkpoint-stall"))
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="checkpoints-"))
    db_path, out = work / "db", work / "checkpoints"
    out.mkdir(parents=True, exist_ok=True)
    if args.mode == "stall":
        stall(db_path, args.to)
        shutil.rmtree(work, ignore_errors=True)
        return
    if args.mode == "_writer":
        write(db_path, 3.0 + args.checkpoints, None, 0)
        return
    if args.mode == "primary":
        write(db_path, float(args.checkpoints), out, args.checkpoints)
    else:
        writer = subprocess.Popen([sys.executable, __file__, "_writer", "--dir", str(work),
                                   "--checkpoints", str(args.checkpoints)])
        time.sleep(2.0)
        for n in range(args.checkpoints):
            try:
                checkpoint_from_outside(db_path, out / f"cp{n}", args.mode)
            except Exception as exc:  # rocksdict raises bare Exception
                print(f"checkpoint {n} failed: {exc}")
            time.sleep(0.5)
        writer.wait()
    taken = sorted(p for p in out.iterdir() if p.name.startswith("cp"))
    good = sum(consistent(p) for p in taken)
    print(f"{args.mode}: {len(taken)} checkpoints, {good} consistent, "
          f"{len(taken) - good} inconsistent")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
