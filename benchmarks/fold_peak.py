"""What a ``PairTable`` holds besides itself while it folds its recent changes in:

    python benchmarks/fold_peak.py [--pairs 50000000] [--changes 3000000]

Builds a table of ``--pairs`` valued pairs (the pair book's shape: ``int64`` keys, ``float64``
values), records ``--changes`` changes (half new pairs, a quarter re-scored, a quarter removed)
in its recent arrays, then merges them (``len``). Prints one JSON object: the RSS before the
merge, the peak during it over that (``ru_maxrss``: run each code in its own process) and a
checksum of the merged table (two codes compared). Run under two trees with ``PYTHONPATH``.
"""

from __future__ import annotations

import argparse
import json
import resource
from pathlib import Path

import numpy as np

from stream_align.engine.pair_table import PairTable


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def _high_water() -> int:
    """Peak RSS since the last reset (``VmHWM``)."""
    line = next(x for x in Path("/proc/self/status").read_text().splitlines()
                if x.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=50_000_000)
    parser.add_argument("--changes", type=int, default=3_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    table = PairTable()
    us = np.arange(args.pairs, dtype=np.int64) // 16  # 16 pairs a first entity
    vs = np.arange(args.pairs, dtype=np.int64) % 16 * 2  # even seconds: odd ones are new
    table.load(us, vs, rng.random(args.pairs))
    del us, vs
    quarter = args.changes // 4
    firsts = rng.choice(args.pairs // 16, 4 * quarter, replace=False).astype(np.int64)
    new, rescored, gone = firsts[:2 * quarter], firsts[2 * quarter:3 * quarter], \
        firsts[3 * quarter:]
    table.put_many(new, 2 * (new % 16) + 1, rng.random(len(new)))  # below the fold's size:
    table.put_many(rescored, rescored % 16 * 2, rng.random(len(rescored)))  # kept as recent
    table.discard_many(gone, gone % 16 * 2)
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark back to the RSS now
    before = _rss()
    size = len(table)  # the merge
    peak = _high_water()
    us, vs, values = table.arrays()
    print(json.dumps({"pairs": size, "rss_before_merge_mb": round(before / 2**20, 1),
                      "peak_over_it_mb": round((peak - before) / 2**20, 1),
                      "checksum": float(values.sum() + (us[::997] * 31 + vs[::997]).sum())}))


if __name__ == "__main__":
    main()
