"""kill -9 a process that is committing, reopen, and find only whole transactions.

A child process commits numbered transactions in a loop (see ``store_crash_worker``); the test
kills it with SIGKILL at a random moment, reopens the store and checks that the stored offset
``k`` counts exactly the transactions present: 0..k-1 wholly, k and later not at all. Every
commit the child reported before dying must be among them (durability). The child is restarted
from the stored offset several times, as the service would be.
"""

import random
import subprocess
import sys
import time
from pathlib import Path

from store_crash_worker import KEYS, TOPIC, tail
from store_helpers import assert_graph_consistent

from stream_align.store import Edge, StateStore, StoreSettings, Transaction

WORKER = Path(__file__).with_name("store_crash_worker.py")
ROUNDS = 3


def _run_and_kill(path: Path, rng: random.Random) -> int:
    """Start the worker, SIGKILL it at a random moment; return the last commit it reported."""
    child = subprocess.Popen(
        [sys.executable, str(WORKER), str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    first = child.stdout.readline()  # the child is committing from here on
    assert first, "the worker died before its first commit"
    time.sleep(rng.uniform(0.0, 0.3))
    child.kill()
    child.wait()
    reported = [first, *child.stdout.read().split()]
    return int(reported[-1])


def _check_whole_transactions(tx: Transaction, committed: int) -> None:
    """Transactions 0..committed-1 are wholly present, later ones wholly absent."""
    for i in range(committed):
        expected = {Edge("r", tail(i, j)) for j in range(KEYS)}
        if i < committed - 1:
            expected.discard(Edge("r", tail(i, 0)))  # removed by transaction i + 1
        assert set(tx.graph.out_edges("A", f"h{i}")) == expected, f"transaction {i}"
        assert tx.graph.has_entity("A", f"h{i}")
    assert list(tx.graph.out_edges("A", f"h{committed}")) == []
    assert not tx.graph.has_entity("A", f"h{committed}")
    assert tx.graph.degree("A", "hub").out == committed
    outbox = [entry.record.value for entry in tx.delivery.outbox()]
    assert outbox == [str(i).encode() for i in range(committed)]
    assert_graph_consistent(tx, "A")


def test_kill_9_leaves_only_whole_transactions(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    settings = StoreSettings(path=tmp_path / "db")
    for round_ in range(ROUNDS):
        last_reported = _run_and_kill(settings.path, rng)
        with StateStore(settings) as store, store.transaction() as tx:
            committed = tx.delivery.offset(TOPIC, 0) or 0
            context = f"seed {seed}, round {round_}, offset {committed}"
            assert committed > last_reported, f"a reported commit was lost ({context})"
            _check_whole_transactions(tx, committed)
