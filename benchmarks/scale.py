"""The scale benchmark contract: load N entities per side, then a steady tail, on a fresh broker.

    python benchmarks/scale.py --entities-per-side N [--rate R --events M]

1. grows the seed pair (default DBP15K zh_en) to N entities per side
   (``stream_align.eval.datasets.grow``; cached under the work directory) and, unless
   ``--model`` is given, trains a model on the seed (``stream-align train --epochs 1``, cached);
2. starts a fresh real Kafka broker (``tools/kafka_broker.py``) and the service on empty topics,
   and reads its RSS once it is ready: the model loaded, the state empty;
3. publishes all but the last M triple changes of the seeded shuffle (entities first) and the
   seed labels, then runs the service on that backlog until it is idle (the load);
4. starts the service again (restore), then publishes the last M triple changes at R/s while it
   runs (the steady tail), until it is idle; freshness covers the tail's alignment events
   (triple produced → alignment event produced, Kafka timestamps).

The service runs as the CLI an operator runs (``stream-align run``), one process at a time; its
RSS is sampled every 0.2 s and the run is stopped if it exceeds ``--max-rss-gb``. The last line
printed is one JSON object; ``rss_bytes_per_entity`` = (peak RSS of the load and tail runs − RSS
with the model loaded and empty state) / entities in both graphs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROKER = [sys.executable, str(ROOT / "tools" / "kafka_broker.py")]
CLI = [sys.executable, "-m", "stream_align.cli"]
HOME = Path(os.environ.get("STREAM_ALIGN_HOME", Path.home() / ".cache" / "stream-align"))


def _broker_tool():
    """``tools/kafka_broker.py`` as a module (a standalone script, not a package)."""
    spec = importlib.util.spec_from_file_location("kafka_broker",
                                                  ROOT / "tools" / "kafka_broker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class BenchmarkError(RuntimeError):
    """A step of the benchmark failed (the message says which)."""


@dataclass
class ServiceRun:
    """One ``stream-align run`` process: when it was ready, its RSS samples and exit time."""

    ready_s: float = 0.0  # spawn → "service started"
    ready_at: float = 0.0  # monotonic time of "service started"
    ready_rss: int = 0  # RSS right after it was ready (bytes)
    peak_rss: int = 0
    exited_at: float = 0.0
    samples: list[int] = field(default_factory=list)


def _rss(pid: int) -> tuple[int, int]:
    """``(VmRSS, VmHWM)`` of a live process in bytes (``(0, 0)`` once it is gone)."""
    try:
        fields = dict(line.split(":", 1) for line in
                      Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    except (FileNotFoundError, ProcessLookupError):
        return 0, 0
    kb = [int(fields.get(k, "0 kB").split()[0]) for k in ("VmRSS", "VmHWM")]
    return kb[0] * 1024, kb[1] * 1024


def _caught_up(log: str, records: int) -> bool:
    """The service's last two progress lines (5 s apart) show ``records`` taken, no lag, no
    deferred work and no new events: it has processed everything published."""
    lines = [json.loads(line) for line in log.splitlines()
             if line.startswith("{") and '"progress"' in line]
    if len(lines) < 2:
        return False
    a, b = lines[-2:]
    return (b["records"] >= records and b["lag"] == 0 and b["deferred"] == 0
            and a["records"] == b["records"] and a["events_out"] == b["events_out"])


class Bench:
    """The broker, the environment of every command, and the service runs."""

    def __init__(self, args: argparse.Namespace, data: Path, model: Path) -> None:
        self.args, self.data, self.model = args, data, model
        self.work = args.work
        self.port = args.port or _broker_tool().free_port_pair()
        self.env = {**os.environ,
                    "STREAM_ALIGN_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{self.port}",
                    "STREAM_ALIGN_STORE__PATH": str(self.work / "state"),
                    "STREAM_ALIGN_OBSERVABILITY__HTTP_PORT": "0",
                    "PYTHONPATH": os.pathsep.join(
                        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}

    def cli(self, *argv: str, log: str | None = None) -> str:
        """Run a ``stream-align`` command to completion; its stdout (or raise with its log)."""
        out = subprocess.run([*CLI, *argv], env=self.env, capture_output=True, text=True)
        if log:
            (self.work / log).write_text(out.stdout + out.stderr)
        if out.returncode != 0:
            raise BenchmarkError(f"stream-align {argv[0]} failed ({out.returncode}): "
                                 f"{(out.stderr.strip().splitlines() or ['?'])[-1]}")
        return out.stdout

    def replay(self, *extra: str) -> dict[str, object]:
        out = self.cli("replay", "--dataset", str(self.data), "--order", "shuffle", "--seed", "7",
                       "--no-progress", *extra)
        return json.loads(out.strip().splitlines()[-1])

    def service(self, idle: float, log: str, then=None, records: int = 0) -> ServiceRun:
        """Run the service until ``idle`` s of quiet. With ``then``: call ``then(run)`` once it
        is ready (in a thread, while the service runs), and stop the service (SIGTERM) once
        ``then`` returned and the service has taken ``records`` records and is quiet."""
        run, path = ServiceRun(), self.work / log
        started = time.monotonic()
        with path.open("w") as fh:
            proc = subprocess.Popen([*CLI, "run", "--model", str(self.model), "--until-idle",
                                     str(idle)], env=self.env, stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        helper: threading.Thread | None = None
        limit = int(self.args.max_rss_gb * 2**30)
        while proc.poll() is None:
            rss, hwm = _rss(proc.pid)
            run.peak_rss = max(run.peak_rss, rss, hwm)
            if rss > limit:
                os.killpg(proc.pid, 9)
                proc.wait()
                raise BenchmarkError(f"service RSS {rss / 2**30:.1f} GB passed --max-rss-gb "
                                     f"{self.args.max_rss_gb} (stopped); see {path}")
            text = path.read_text(errors="replace")
            if helper is not None and not helper.is_alive() and _caught_up(text, records):
                os.killpg(proc.pid, signal.SIGTERM)
                helper = None
            if not run.ready_at and "service started" in text:
                run.ready_at = time.monotonic()
                run.ready_s = run.ready_at - started
                run.ready_rss = rss
                if then is not None:
                    helper = threading.Thread(target=then, args=(run,), daemon=True)
                    helper.start()
            time.sleep(0.2)
        run.exited_at = time.monotonic()
        if proc.returncode != 0 or not run.ready_at:
            tail = path.read_text(errors="replace").strip().splitlines()[-1:] or ["?"]
            raise BenchmarkError(f"service exited {proc.returncode}: {tail[0]} (see {path})")
        return run

    def __enter__(self) -> Bench:
        subprocess.run([*BROKER, "stop", "--data-dir", str(self.work / "kafka")],
                       capture_output=True, check=True)
        for sub in ("kafka", "state"):
            subprocess.run(["rm", "-rf", str(self.work / sub)], check=True)
        subprocess.run([*BROKER, "start", "--port", str(self.port), "--data-dir",
                        str(self.work / "kafka")], check=True, stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run([*BROKER, "stop", "--data-dir", str(self.work / "kafka")],
                       capture_output=True, check=False)


def prepare(args: argparse.Namespace) -> tuple[Path, Path]:
    """The grown dataset and the model (made once per seed, size and rewire share)."""
    from stream_align.eval.datasets.grow import grow

    seed = args.seed_dataset.resolve()
    data = args.work / f"data-{seed.name}-{args.entities_per_side}-{args.rewire}"
    if not (data / "SCALE.json").exists():
        grow(seed, data, args.entities_per_side, args.rewire)
    model = args.model
    if model is None:
        model = args.work / f"model-{seed.name}"
        if not (model / "config.json").exists():
            out = subprocess.run([*CLI, "train", "--dataset", str(seed), "--out", str(model),
                                  "--epochs", "1"], capture_output=True, text=True)
            if out.returncode != 0:
                raise BenchmarkError(f"training the model failed: {out.stderr[-500:]}")
    return data, model


def measure(bench: Bench) -> dict[str, object]:
    """Empty start, load, restore and tail; the contract's numbers."""
    args = bench.args
    load_average = [round(os.getloadavg()[0], 2)]  # the machine's, next to every timing
    bench.cli("topics")
    empty = bench.service(1.0, "empty.log")
    scale = json.loads((bench.data / "SCALE.json").read_text())
    entities = 2 * args.entities_per_side
    triples = int(scale["triples_1"]) + int(scale["triples_2"])
    if args.events >= triples:
        raise BenchmarkError(f"--events {args.events} is not below the dataset's {triples} "
                             "triples")
    load = entities + triples - args.events
    bench.replay("--limit", str(load))
    loaded = bench.service(args.idle, "load.log")
    load_s = loaded.exited_at - loaded.ready_at - args.idle
    since: list[int] = []

    def publish_tail(run: ServiceRun) -> None:
        since.append(int(time.time() * 1000))
        bench.replay("--skip", str(load), "--limit", str(args.events), "--rate", str(args.rate),
                     "--no-labels")

    tail = bench.service(24 * 3600.0, "tail.log", then=publish_tail, records=args.events)
    summary = json.loads(bench.cli("summary", "--dataset", str(bench.data), "--json",
                                   "--since-ms", str(since[0])).strip().splitlines()[-1])
    peak = max(loaded.peak_rss, tail.peak_rss)
    load_triples = load - entities
    return {
        "entities_per_side": args.entities_per_side,
        "rss_bytes_per_entity": round((peak - empty.ready_rss) / entities, 1),
        "load_triples_per_s": round(load_triples / max(load_s, 1e-9), 1),
        "freshness_p50_ms": summary.get("freshness_ms_p50"),
        "freshness_p99_ms": summary.get("freshness_ms_p99"),
        "rate": args.rate,
        "restore_s": round(tail.ready_s, 2),
        "events": args.events,
        "load_records": load, "load_triples": load_triples, "load_s": round(load_s, 2),
        "empty_start_s": round(empty.ready_s, 2),
        "empty_rss_bytes": empty.ready_rss, "load_peak_rss_bytes": loaded.peak_rss,
        "tail_peak_rss_bytes": tail.peak_rss, "restored_rss_bytes": tail.ready_rss,
        "freshness_p95_ms": summary.get("freshness_ms_p95"),
        "alignments": summary.get("alignments"), "precision": summary.get("precision"),
        "recall": summary.get("recall"), "f1": summary.get("f1"),
        "triples_total": triples,
        "load_average_start_end": [*load_average, round(os.getloadavg()[0], 2)],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities-per-side", type=int, required=True, metavar="N")
    parser.add_argument("--rate", type=float, default=1000.0, help="tail inserts per second")
    parser.add_argument("--events", type=int, default=20000, help="tail triple changes")
    parser.add_argument("--seed-dataset", type=Path,
                        default=ROOT.parent / "shared" / "datasets" / "dbp15k" / "zh_en")
    parser.add_argument("--rewire", type=float, default=0.25,
                        help="grown data: share of triples whose tail is in another copy")
    parser.add_argument("--model", type=Path, default=None,
                        help="model artifact (default: train one on the seed, cached)")
    parser.add_argument("--work", type=Path, default=HOME / "scale",
                        help="data, model, broker and state live here")
    parser.add_argument("--port", type=int, default=0, help="broker port (default: a free one)")
    parser.add_argument("--idle", type=float, default=10.0,
                        help="seconds of quiet that end the load run")
    parser.add_argument("--max-rss-gb", type=float, default=16.0,
                        help="stop the service if its RSS passes this")
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        data, model = prepare(args)
        with Bench(args, data, model) as bench:
            result = measure(bench)
    except BenchmarkError as exc:
        print(f"scale benchmark failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
