"""What a float16 vector store costs a list scan: the rows must be decoded to multiply them.

    python benchmarks/fp16_decode.py [--rows-stored 200000] [--dim 256]

A flat list scan multiplies a batch's changed vectors (a few rows) with every vector of the
other graph; BLAS multiplies float32, so a float16 store decodes all of them per scan. Prints,
for a few query-row counts, the milliseconds of ``q @ b.T`` on float32 rows and on float16 rows
decoded first (whole, and in blocks of 16,384 rows). Random data: only the time matters.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _ms(work, repeat: int = 5) -> float:
    work()
    started = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - started) / repeat * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows-stored", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=256)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    b32 = rng.standard_normal((args.rows_stored, args.dim), dtype=np.float32)
    b16 = b32.astype(np.float16)
    block = 16_384
    for rows in (11, 64, 838):
        q = rng.standard_normal((rows, args.dim), dtype=np.float32)

        def blocks(q: np.ndarray = q) -> np.ndarray:
            out = np.empty((len(q), len(b16)), np.float32)
            for lo in range(0, len(b16), block):
                out[:, lo:lo + block] = q @ b16[lo:lo + block].astype(np.float32).T
            return out

        print(f"stored {args.rows_stored} x {args.dim}, query rows {rows}: "
              f"float32 {_ms(lambda q=q: q @ b32.T):.1f} ms, "
              f"float16 decoded whole {_ms(lambda q=q: q @ b16.astype(np.float32).T):.1f} ms, "
              f"in {block}-row blocks {_ms(blocks):.1f} ms", flush=True)


if __name__ == "__main__":
    main()
