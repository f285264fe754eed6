"""Measure the state store on DBP15K zh_en; the numbers in docs/decisions/0003-state-store.md.

    python tests/unit/store/store_benchmark.py --dataset ../shared/datasets/dbp15k/zh_en

Loads both graphs' triples (entity and relation URIs as ids, as the service stores them) in
transactions of a given size, each also setting an offset and appending an outbox record like a
processing step does; then times neighbourhood scans and triple lookups, and a kill -9 loop.
"""

import argparse
import random
import tempfile
import time
from pathlib import Path

from test_store_crash import _check_whole_transactions, _run_and_kill

from stream_align.store import OutboxRecord, StateStore, StoreSettings, Triple
from stream_align.store.recovery import state_digest

Names = dict[str, str]


def _ids(path: Path) -> Names:
    return dict(line.rstrip("\n").split("\t", 1) for line in path.open(encoding="utf-8"))


def load_triples(dataset: Path) -> list[Triple]:
    """Both graphs' triples with URIs, graph A = side 1, graph B = side 2."""
    triples = []
    for side, graph in (("1", "A"), ("2", "B")):
        entities, relations = _ids(dataset / f"ent_ids_{side}"), _ids(dataset / f"rel_ids_{side}")
        for line in (dataset / f"triples_{side}").open(encoding="utf-8"):
            head, relation, tail = line.split()
            triples.append(Triple(graph, entities[head], relations[relation], entities[tail]))
    return triples


def load(store: StateStore, triples: list[Triple], per_tx: int) -> tuple[float, float, float]:
    """Apply the triples; return seconds in total, inside commit, and CPU seconds.

    CPU time is reported beside wall time because the shared machine's load moves wall time.
    """
    started, committing, cpu = time.perf_counter(), 0.0, time.process_time()
    for start in range(0, len(triples), per_tx):
        tx = store.transaction()
        for triple in triples[start : start + per_tx]:
            tx.graph.add_triple(*triple)
        tx.delivery.set_offset("kg.triples", 0, start + per_tx)
        tx.delivery.append(OutboxRecord("kg.alignment-events", b"k", b"x" * 200))
        before = time.perf_counter()
        tx.commit()
        committing += time.perf_counter() - before
    return time.perf_counter() - started, committing, time.process_time() - cpu


def bench_writes(triples: list[Triple], workdir: Path) -> StateStore:
    """Write throughput per transaction size and sync mode; return the fully loaded store."""
    for per_tx, sync, count in [(1, False, 5000), (1, True, 2000), (100, True, 20000)]:
        with StateStore(StoreSettings(path=workdir / f"w{per_tx}{sync}", sync_writes=sync)) as s:
            total, commit, cpu = load(s, triples[:count], per_tx)
        print(
            f"{count} triples, {per_tx}/tx, sync={sync}: {count / total:,.0f} triples/s, "
            f"{count / per_tx / total:,.0f} tx/s, commit {commit / total:.0%} of time, "
            f"{count / cpu:,.0f} triples per CPU-second"
        )
    store = StateStore(StoreSettings(path=workdir / "full"))
    total, commit, cpu = load(store, triples, 1000)
    print(
        f"{len(triples)} triples, 1000/tx, sync=False: {len(triples) / total:,.0f} triples/s "
        f"({total:.1f} s, commit {commit / total:.0%} of time, {cpu:.1f} CPU-s)"
    )
    return store


def bench_reads(store: StateStore, triples: list[Triple]) -> None:
    """Neighbourhood scans, degree lookups and existence checks on the committed store."""
    entities = sorted({(t.graph, t.head) for t in triples} | {(t.graph, t.tail) for t in triples})
    with store.transaction() as tx:
        started = time.perf_counter()
        edges = sum(
            len(list(tx.graph.out_edges(*e))) + len(list(tx.graph.in_edges(*e))) for e in entities
        )
        scan = time.perf_counter() - started
        started = time.perf_counter()
        degrees = sum(tx.graph.degree(*e).total for e in entities)
        degree = time.perf_counter() - started
        sample = random.Random(0).sample(triples, 20000)
        started = time.perf_counter()
        assert all(tx.graph.has_triple(*t) for t in sample)
        lookup = time.perf_counter() - started
    assert edges == degrees
    print(
        f"neighbourhood (out+in) of {len(entities)} entities: {len(entities) / scan:,.0f}/s "
        f"({edges / scan:,.0f} edges/s); degree counters {len(entities) / degree:,.0f}/s; "
        f"has_triple {len(sample) / lookup:,.0f}/s"
    )
    started = time.perf_counter()
    state_digest(store)
    print(f"state_digest of the full store: {time.perf_counter() - started:.2f} s")


def bench_crash(workdir: Path, rounds: int) -> None:
    """Kill -9 the crash-test worker ``rounds`` times, checking the store after each kill."""
    settings, rng = StoreSettings(path=workdir / "crash"), random.Random(1)
    killed_after = []
    for _ in range(rounds):
        _run_and_kill(settings.path, rng)
        with StateStore(settings) as store, store.transaction() as tx:
            committed = tx.delivery.offset("kg.triples", 0) or 0
            _check_whole_transactions(tx, committed)
        killed_after.append(committed)
    print(
        f"kill -9 x{rounds}: all consistent; committed transactions after each kill: {killed_after}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--crash-rounds", type=int, default=20)
    args = parser.parse_args()
    triples = load_triples(args.dataset)
    with tempfile.TemporaryDirectory() as workdir:
        store = bench_writes(triples, Path(workdir))
        bench_reads(store, triples)
        store.close()
        bench_crash(Path(workdir), args.crash_rounds)


if __name__ == "__main__":
    main()
