"""The steady tail at scale, without Kafka: a stored state restored, the contract's tail removed and
added again in calls.

    python benchmarks/tail_at_scale.py --state DIR --data DATA --model M \\
        [--events 5000] [--batch 1000] [--phases remove,add] [--work DIR] [--engine F=V ...]

``DIR`` is a service's state after ``benchmarks/scale.py`` (its ``--work``/state: the load and
the tail applied), ``DATA`` the grown pair it loaded (its ``--work``/data-…). The scale
contract's tail is the last ``--events`` triples of the service's replay (``--order shuffle
--seed 7``), so this tool takes the same triples, and on a copy of the state (or the state
itself with ``--in-place``):

1. restores the engine (seconds and CPU by stage, RSS after);
2. for each phase, gives it those triples as ``REMOVE_TRIPLE`` (``remove``) or ``ADD_TRIPLE``
   (``add``) changes in calls of ``--batch``, then empty calls until nothing is queued, each
   call committed as the service commits a batch. The ``add`` phase after ``remove`` is the
   contract's tail on its own state: the same triples into the same graphs.

Prints one line per call (wall, CPU, RSS, the engine's stats) and, last, one JSON object with
each phase's calls, wall, CPU and CPU an event. Why it exists: the contract's tail costs a
whole load and restore to reach (an hour at 1M a side), and its service log gives only stage
clocks; this gives the tail's calls to a profiler in minutes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from stream_align.engine.engine import AlignmentEngine
from stream_align.engine.settings import EngineSettings
from stream_align.eval.datasets.loader import load_dataset
from stream_align.events.contracts import TripleChange, TripleOp
from stream_align.model.artifact import load
from stream_align.service.collector import collector_off, collector_paused, freeze_survivors
from stream_align.service.engine_state import StoredState, process_into
from stream_align.store.settings import StoreSettings
from stream_align.store.state_store import StateStore

SHOWN = ("affected", "recomputed", "deferred", "recompute_s", "researched", "lists_s",
         "csls_reranked", "pairs_scored", "score_s", "views_built", "decide_s", "events",
         "write_s")


def rss_gb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1e6
    return 0.0


def tail_triples(data: Path, events: int, seed: int = 7) -> list[tuple[str, str, str, str]]:
    """The last ``events`` triples of ``replay --order shuffle --seed 7`` as (graph, head,
    relation, tail): ``eval.replay._shuffled``'s permutations drawn again, so only the tail's
    rows become keys (the whole stream of a 1M pair is 10.7M events)."""
    pair = load_dataset(data)
    rng = np.random.default_rng(seed)
    rng.permutation(pair.a.num_entities + pair.b.num_entities)  # the upserts' order
    graphs = (pair.a, pair.b)
    which = np.repeat([0, 1], [len(pair.a.triples), len(pair.b.triples)])
    rows = np.concatenate([pair.a.triples, pair.b.triples])
    picked = rng.permutation(len(rows))[len(rows) - events:]
    out = []
    for k in picked.tolist():
        g, (h, r, t) = graphs[which[k]], rows[k]
        out.append((g.label, g.keys[h], g.relations[r], g.keys[t]))
    return out


def changes(triples: list[tuple[str, str, str, str]], op: TripleOp) -> list[TripleChange]:
    return [TripleChange.new(graph=g, op=op, head=h, relation=r, tail=t,
                             id_from=("tail_at_scale", op.value, g, h, r, t))
            for g, h, r, t in triples]


def call(store: StateStore, engine: AlignmentEngine, batch: list[TripleChange],
         label: str) -> tuple[float, float]:
    """One committed call, as the service runs a batch; its wall and CPU seconds."""
    t, c = time.perf_counter(), time.process_time()
    stages: dict[str, float] = {}
    with collector_paused(stages), store.transaction() as tx:
        out = process_into(tx, engine, batch, [])
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    stats = {k: round(out.stats[k], 2) for k in SHOWN if k in out.stats}
    print(f"{label:>12} {len(batch):6d} in {wall:7.1f}s wall {cpu:7.1f}s CPU "
          f"rss {rss_gb():5.2f} GB {stats}", flush=True)
    return wall, cpu


def phase(store: StateStore, engine: AlignmentEngine, events: list[TripleChange],
          batch: int, name: str) -> dict[str, float]:
    walls, cpus = [], []
    for lo in range(0, len(events), batch):
        w, c = call(store, engine, events[lo:lo + batch], f"{name} {lo // batch + 1}")
        walls.append(w)
        cpus.append(c)
    drains = 0
    while engine.pending_count:
        drains += 1
        w, c = call(store, engine, [], f"{name} drain {drains}")
        walls.append(w)
        cpus.append(c)
    return {"calls": len(walls), "wall_s": round(sum(walls), 1), "cpu_s": round(sum(cpus), 1),
            "cpu_ms_an_event": round(1000 * sum(cpus) / max(len(events), 1), 2),
            "first_call_cpu_s": round(cpus[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--phases", default="remove,add")
    parser.add_argument("--work", type=Path, default=None, help="the state's copy goes here")
    parser.add_argument("--in-place", action="store_true", help="change the state itself")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engine", action="append", default=["candidate_index=ivf"],
                        metavar="FIELD=VALUE", help="EngineSettings fields, as the state was "
                        "written with (default candidate_index=ivf)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    path = args.state
    if not args.in_place:
        path = (args.work or Path(tempfile.mkdtemp(prefix="tail_at_scale_"))) / "state"
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(args.state, path)
    triples = tail_triples(args.data, args.events)
    settings = EngineSettings(**dict(o.split("=", 1) for o in args.engine))
    bundle = load(args.model)
    store = StateStore(StoreSettings(path=path))
    result: dict[str, object] = {"events": args.events, "batch": args.batch}
    try:
        t, c = time.perf_counter(), time.process_time()
        with collector_off(), store.transaction() as tx:  # as the service restores
            engine = AlignmentEngine.restore(bundle, StoredState(tx), settings)
        freeze_survivors()
        result["restore_s"] = round(time.perf_counter() - t, 1)
        result["restore_cpu_s"] = round(time.process_time() - c, 1)
        result["restored_rss_gb"] = round(rss_gb(), 2)
        print(f"restored in {result['restore_s']} s ({result['restore_cpu_s']} s CPU), "
              f"rss {result['restored_rss_gb']} GB", flush=True)
        ops = {"remove": TripleOp.REMOVE_TRIPLE, "add": TripleOp.ADD_TRIPLE}
        for name in args.phases.split(","):
            result[name] = phase(store, engine, changes(triples, ops[name]), args.batch, name)
    finally:
        store.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
