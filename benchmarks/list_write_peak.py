"""Peak memory of writing a bulk refresh's candidate lists into one store transaction:

    python benchmarks/list_write_peak.py [--rows 200000] [--width 30] [--encode-rows N]

Writes ``--rows`` list rows per graph (both graphs, as a bulk refresh that sets every list of a
``--rows``-a-side pair does: FAISS ids with a tenth of the slots empty, float32 scores, a bound
each) with ``CandidateStore.put_lists`` into one transaction of a fresh store, and commits.
Prints one JSON object: the process's RSS before the rows were made, with the rows made, its
peak (``ru_maxrss``) and the peak over the rows. ``--encode-rows`` overrides
``candidate_store.ENCODE_ROWS`` (``0``: every row at once, as before decision 0050). Run each
setting in its own process (the peak is per process).
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
from pathlib import Path

import numpy as np

from stream_align.store import candidate_store
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="list rows per graph")
    parser.add_argument("--width", type=int, default=30, help="slots per row")
    parser.add_argument("--encode-rows", type=int, default=None)
    args = parser.parse_args()
    if args.encode_rows is not None:
        candidate_store.ENCODE_ROWS = args.encode_rows or args.rows
    before = _rss()
    rng = np.random.default_rng(0)
    keys = [f"http://example.org/entity/{i:09d}" for i in range(args.rows)]
    ids = rng.integers(0, 2 * args.rows, size=(args.rows, args.width))
    ids[rng.random(ids.shape) < 0.1] = -1
    scores = rng.random(ids.shape).astype(np.float32)
    bounds = rng.random(args.rows)
    made = _rss()
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(StoreSettings(path=Path(tmp)))
        with store.transaction() as tx:
            for graph in ("A", "B"):
                tx.candidates.put_lists(graph, keys, bounds, ids, scores)
        store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows_per_graph": args.rows, "width": args.width,
                      "encode_rows": candidate_store.ENCODE_ROWS, "rss_before": before,
                      "rss_rows_made": made, "peak_rss": peak,
                      "peak_over_rows_mb": round((peak - made) / 1e6, 1)}))


if __name__ == "__main__":
    main()
