"""Cost of input idempotency: remembering event ids in RocksDB, with the window full.

    python benchmarks/input_ids.py --events 300000 --batch 25000 --window 100000

Decodes nothing and runs no engine: per batch it opens a transaction, compares every event id
with the remembered ones (``admit``'s digest and ``AppliedIds.see``), forgets beyond the window
and commits — the exact work ``idempotency.admit`` adds to a service batch — then, for scale,
stores the same batches' triples in the graph store (what the engine writes for every ADD
anyway) and prints µs per input event for both.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from stream_align.events.contracts import TripleChange
from stream_align.service.idempotency import content_digest
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore


def _batches(events: int, batch: int) -> list[list[TripleChange]]:
    changes = [TripleChange.add_triple("A", f"a:{i % 5000}", "rel", f"a:{i}", id_from=(i,))
               for i in range(events)]
    return [changes[i:i + batch] for i in range(0, events, batch)]


def _run(path: Path, batches: list[list[TripleChange]], window: int | None) -> float:
    store = StateStore(StoreSettings(path=path))
    started = time.perf_counter()
    try:
        for batch in batches:
            with store.transaction() as tx:
                if window is None:
                    for change in batch:  # what the engine stores for every ADD anyway
                        tx.graph.add_triple("A", change.head, "rel", change.tail or "")
                else:
                    tx.applied.see("triple", [(c.event_id, content_digest(c)) for c in batch])
                    tx.applied.forget_beyond(window)
    finally:
        store.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=25_000)
    parser.add_argument("--window", type=int, default=100_000)
    args = parser.parse_args()
    batches = _batches(args.events, args.batch)
    with tempfile.TemporaryDirectory() as tmp:
        checked = _run(Path(tmp) / "checked", batches, args.window)
        plain = _run(Path(tmp) / "graph", batches, None)
    per = 1e6 / args.events
    print(f"{args.events} events in batches of {args.batch}, window {args.window}: "
          f"id check {checked * per:.1f} µs/event, graph-store write of the triple "
          f"{plain * per:.1f} µs/event (ratio {checked / plain:.2f})")


if __name__ == "__main__":
    main()
