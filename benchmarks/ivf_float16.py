"""Memory of the IVF index's vectors: float32 codes (``IndexIVFFlat``) against half floats
(``IndexIVFScalarQuantizer`` QT_fp16, ``engine.ivf_float16``), decision 0043:

    python benchmarks/ivf_float16.py [--vectors 200000] [--dim 256] [--cells 2048]

Each code runs in its own process (a freed index's memory would be reused by the next): the
process's RSS before and after adding the vectors through ``IvfVectorIndex.add`` in chunks of
20,000 (as a bulk load adds them), so the figure includes the inverted lists' growth slack and
the id → entry hash map. Also prints the largest difference between the stored and the given
vectors. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

CHUNK = 20_000


def _rss_bytes() -> int:
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) * 1024


def _one(vectors: int, dim: int, cells: int, float16: bool) -> dict[str, float]:
    from stream_align.index import IvfVectorIndex

    rng = np.random.default_rng(0)
    x = rng.standard_normal((vectors, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = IvfVectorIndex(x[rng.choice(vectors, cells, replace=False)], 32, True, float16)
    before = _rss_bytes()
    for start in range(0, vectors, CHUNK):
        ids = np.arange(start, min(start + CHUNK, vectors), dtype=np.int64)
        index.add(ids, x[ids])
    grown = _rss_bytes() - before
    stored = index.reconstruct_many(np.arange(vectors, dtype=np.int64))
    return {"float16": float16, "bytes_per_vector": round(grown / vectors, 1),
            "max_abs_error": float(np.abs(stored - x).max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--cells", type=int, default=2048)
    parser.add_argument("--one", choices=["float32", "float16"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.vectors, args.dim, args.cells, args.one == "float16")))
        return
    rows = []
    for code in ("float32", "float16"):
        out = subprocess.run([sys.executable, __file__, "--vectors", str(args.vectors), "--dim",
                              str(args.dim), "--cells", str(args.cells), "--one", code],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    print(json.dumps({"vectors": args.vectors, "dim": args.dim, "cells": args.cells,
                      "float32_bytes_per_vector": rows[0]["bytes_per_vector"],
                      "float16_bytes_per_vector": rows[1]["bytes_per_vector"],
                      "float16_max_abs_error": rows[1]["max_abs_error"]}))


if __name__ == "__main__":
    main()
