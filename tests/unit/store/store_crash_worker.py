"""Child process of the crash test: commits numbered transactions until it is killed.

Transaction ``i`` adds ``KEYS`` triples headed ``h{i}``, removes the first triple of
transaction ``i - 1``, adds ``hub -> h{i}``, appends one outbox record and sets the input offset
to ``i + 1``; it then prints ``i``. Any partial application breaks one of the checks in
``expected_after`` - including one that straddles two transactions.
"""

import itertools
import sys
from pathlib import Path

from stream_align.store import OutboxRecord, StateStore, StoreSettings, Transaction

TOPIC = "kg.triples"
KEYS = 150


def tail(i: int, j: int) -> str:
    return f"t{i}_{j}"


def write_transaction(tx: Transaction, i: int) -> None:
    """Everything transaction ``i`` writes."""
    tx.graph.upsert_entity("A", f"h{i}", "node", {"name": f"node {i}"})
    for j in range(KEYS):
        tx.graph.add_triple("A", f"h{i}", "r", tail(i, j))
    if i:
        tx.graph.remove_triple("A", f"h{i - 1}", "r", tail(i - 1, 0))
    tx.graph.add_triple("A", "hub", "r", f"h{i}")
    tx.delivery.append(OutboxRecord("out", None, str(i).encode()))
    tx.delivery.set_offset(TOPIC, 0, i + 1)


def main(path: str) -> None:
    with StateStore(StoreSettings(path=Path(path))) as store:
        with store.transaction() as tx:
            start = tx.delivery.offset(TOPIC, 0) or 0
        for i in itertools.count(start):
            with store.transaction() as tx:
                write_transaction(tx, i)
            print(i, flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
