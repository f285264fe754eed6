"""What an operator sees in the service's log during a broker outage, and how long a restarted
replica waits for its partitions with static group membership (the default) and without.

    PYTHONPATH=. python benchmarks/broker_outage.py DATASET_DIR MODEL_DIR [--outage 25]

On a fresh real broker (tools/kafka_broker.py) under --work: replay the dataset, run
``stream-align run`` until caught up, stop the broker for --outage seconds, start it again
(same data), wait 20 s; count the service's stderr lines of that window (all, not JSON, from
librdkafka, broker lost/back). Then, per membership mode, ``kill -9`` a caught-up service and
restart it: seconds from the restart joining the group to its "partitions assigned" log line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BROKER = [sys.executable, str(ROOT / "tools" / "kafka_broker.py")]


def _broker(action: str, args: argparse.Namespace) -> None:
    extra = ["--port", str(args.port)] if action == "start" else []
    subprocess.run([*BROKER, action, "--data-dir", str(args.work / "kafka"), *extra], check=True,
                   stdout=subprocess.DEVNULL)


def _service(args: argparse.Namespace, env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "stream_align.cli", "run", "--model",
                             str(args.model)], env=env, stdout=subprocess.DEVNULL,
                            stderr=log.open("a"))


def _wait_for(log: Path, event: str, after: int = 0, timeout: float = 300.0) -> float:
    """Seconds until the log has a line with ``event`` beyond its first ``after`` lines."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        lines = log.read_text().splitlines()[after:] if log.exists() else []
        if any(f'"event": "{event}"' in line for line in lines):
            return time.monotonic() - started
        time.sleep(0.1)
    raise TimeoutError(f"no {event!r} in {log} within {timeout}s")


def _outage(args: argparse.Namespace, env: dict[str, str]) -> dict[str, object]:
    log = args.work / "outage.log"
    service = _service(args, env, log)
    _wait_for(log, "service started")
    time.sleep(15)  # caught up
    begin = datetime.now().astimezone()
    _broker("stop", args)
    time.sleep(args.outage)
    _broker("start", args)
    time.sleep(20)
    end = datetime.now().astimezone()
    service.send_signal(signal.SIGTERM)
    service.wait(timeout=120)
    window, raw = [], 0
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raw += 1
            continue
        if begin <= datetime.fromisoformat(record["timestamp"]) <= end:
            window.append(record)
    kafka = [r for r in window if str(r.get("logger", "")).startswith("stream_align.kafka")]
    return {"window_s": round((end - begin).total_seconds(), 1), "lines": len(window) + raw,
            "not_json": raw, "librdkafka": sum(r["logger"].endswith("librdkafka") for r in kafka),
            "lost_back": [r["event"] for r in kafka if "brokers" in r["event"]],
            "held_back": sum(int(r.get("repeated", 0)) for r in kafka)}


def _restart_wait(args: argparse.Namespace, env: dict[str, str], mode: str) -> float:
    """Seconds a replica restarted after a ``kill -9`` waits for its partitions: from joining
    the group ("service started") to "partitions assigned" (start-up itself not counted)."""
    log = args.work / f"restart-{mode}.log"
    first = _service(args, env, log)
    _wait_for(log, "partitions assigned", timeout=300)
    time.sleep(5)
    first.kill()
    first.wait()
    seen = len(log.read_text().splitlines())
    second = _service(args, env, log)
    try:
        _wait_for(log, "partitions assigned", after=seen, timeout=300)
    finally:
        second.kill()
        second.wait()
    times = {}
    for line in log.read_text().splitlines()[seen:]:
        if line.startswith("{"):
            record = json.loads(line)
            times.setdefault(record["event"], datetime.fromisoformat(record["timestamp"]))
    return round((times["partitions assigned"] - times["service started"]).total_seconds(), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("--outage", type=float, default=25.0)
    parser.add_argument("--port", type=int, default=39292)
    parser.add_argument("--work", type=Path, default=Path("/tmp/stream-align-outage"))
    parser.add_argument("--outage-only", action="store_true",
                        help="skip the restarts (e.g. to measure code without the assignment "
                        "log line)")
    args = parser.parse_args()
    subprocess.run(["rm", "-rf", str(args.work)], check=True)
    args.work.mkdir(parents=True)
    env = {**os.environ, "STREAM_ALIGN_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{args.port}",
           "STREAM_ALIGN_STORE__PATH": str(args.work / "state"),
           "STREAM_ALIGN_OBSERVABILITY__HTTP_PORT": "0"}
    _broker("start", args)
    try:
        subprocess.run([sys.executable, "-m", "stream_align.cli", "replay", "--dataset",
                        str(args.dataset), "--no-progress"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        result: dict[str, object] = {"outage": _outage(args, env)}
        if args.outage_only:
            print(json.dumps(result, indent=1))
            return
        result["restart_wait_s"] = {
            "static": _restart_wait(args, env, "static"),
            # the static member above holds the partitions until its session ends: the first
            # dynamic start waits that out; the measured restart is the second
            "dynamic": _restart_wait(args, {**env, "STREAM_ALIGN_KAFKA__GROUP_INSTANCE_ID": ""},
                                     "dynamic")}
        print(json.dumps(result, indent=1))
    finally:
        _broker("stop", args)


if __name__ == "__main__":
    main()
