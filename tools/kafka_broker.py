#!/usr/bin/env python3
"""Run a real single-node Apache Kafka 4 broker (KRaft) on 127.0.0.1 without the tarball.

The jars come from Maven Central through ``tools/kafka/pom.xml`` and are cached outside the
repository (``$STREAM_ALIGN_HOME/kafka-<version>/libs``). ``start`` formats KRaft storage the way
``kafka-storage.sh format --standalone`` does, launches ``kafka.Kafka`` and waits until the
broker accepts connections; ``stop`` kills the process group and waits until it is gone.
Every command is idempotent. Standard library only: it runs before the virtualenv exists.

    python tools/kafka_broker.py fetch
    python tools/kafka_broker.py start --port 19092 --data-dir /tmp/sa-kafka
    python tools/kafka_broker.py status --data-dir /tmp/sa-kafka
    python tools/kafka_broker.py stop --data-dir /tmp/sa-kafka

Secured listeners: ``--extra-properties FILE`` adds to (or replaces keys of) the generated
``server.properties`` (e.g. ``listeners`` with an SSL and a SASL_SSL listener, keystores,
``listener.name.<name>.ssl.client.auth=required``), and ``--add-scram`` creates SCRAM users
when the storage is formatted, as ``kafka-storage format --add-scram`` does:

    python tools/kafka_broker.py start --port 19092 --extra-properties secure.properties \
        --add-scram 'SCRAM-SHA-512=[name=svc,password=svc-secret]'
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
POM = TOOLS / "kafka" / "pom.xml"
HOME = Path(os.environ.get("STREAM_ALIGN_HOME", Path.home() / ".cache" / "stream-align"))


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if not match:
        raise SystemExit(f"no <kafka.version> in {POM}")
    return match.group(1)


def libs_dir() -> Path:
    return HOME / f"kafka-{kafka_version()}" / "libs"


def fetch() -> Path:
    """Copy the broker jars from Maven Central into the cache (once)."""
    libs = libs_dir()
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise SystemExit("Maven (mvn) is needed to fetch the Kafka jars")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = ["mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(POM), "dependency:copy-dependencies",
           "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"]
    subprocess.run(cmd, check=True)
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    marker.touch()
    return libs


def _pid_file(data_dir: Path) -> Path:
    return data_dir / "broker.pid"


def _read_pid(data_dir: Path) -> int | None:
    try:
        pid = int(_pid_file(data_dir).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    return pid


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_low() -> int:
    """The kernel's first port for outgoing connections (Linux; 32768 where unknown)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_pair() -> int:
    """A free port p such that p + 1 (the controller listener) is free too.

    Chosen below the kernel's ephemeral range: a port from that range (``bind(0)``) stays free
    only until the next outgoing connection takes it as its local port, and a broker restarted
    on the same pair (``benchmarks/scale.py`` restarts it twice) then failed to bind p + 1."""
    rng = random.Random()
    low = _ephemeral_low()
    for _ in range(200):
        port = rng.randrange(10_000, low - 2)
        if _bindable(port) and _bindable(port + 1):
            return port
    raise SystemExit("no free port pair")


def _read_properties(text: str) -> dict[str, str]:
    """``key=value`` lines of a Java properties file (comments and blank lines skipped)."""
    pairs = (line.split("=", 1) for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith(("#", "!")) and "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def _write_config(data_dir: Path, port: int, controller_port: int,
                  extra: Path | None = None) -> Path:
    log_dirs = data_dir / "kraft-logs"
    config = data_dir / "server.properties"
    properties = _read_properties(f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}
listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={log_dirs}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
log.cleaner.backoff.ms=1000
""")
    if extra is not None:
        properties.update(_read_properties(extra.read_text()))
    config.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
    (data_dir / "log4j2.properties").write_text(f"""\
rootLogger.level=INFO
rootLogger.appenderRef.file.ref=file
appender.file.type=File
appender.file.name=file
appender.file.fileName={data_dir / "broker.log"}
appender.file.layout.type=PatternLayout
appender.file.layout.pattern=[%d] %p %m (%c)%n
""")
    return config


def _java(libs: Path, main: str, *args: str, log: Path | None = None) -> subprocess.Popen:
    cmd = ["java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
           f"-Dlog4j2.configurationFile={log}" if log else "-Dlog4j2.level=WARN",
           "-cp", f"{libs}/*", main, *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)


def _format(libs: Path, data_dir: Path, config: Path, scram: list[str]) -> None:
    if (data_dir / "kraft-logs" / "meta.properties").exists():
        return
    proc = _java(libs, "kafka.tools.StorageTool", "random-uuid")
    cluster_id = proc.communicate()[0].strip().splitlines()[-1]
    users = [arg for entry in scram for arg in ("--add-scram", entry)]
    proc = _java(libs, "kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id,
                 "-c", str(config), *users)
    out = proc.communicate()[0]
    if proc.returncode != 0:
        raise SystemExit(f"formatting KRaft storage failed:\n{out}")


def start(data_dir: Path, port: int, controller_port: int, timeout: float,
          extra: Path | None = None, scram: list[str] | None = None) -> None:
    """Start the broker unless it already runs; return once it accepts connections."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if _read_pid(data_dir) is not None and _port_open(port):
        print(f"kafka already running on 127.0.0.1:{port} (pid {_read_pid(data_dir)})")
        return
    libs = fetch()
    config = _write_config(data_dir, port, controller_port, extra)
    _format(libs, data_dir, config, scram or [])
    console = open(data_dir / "console.log", "ab")  # noqa: SIM115 - handed to the child
    cmd = ["java", "-Xms256m", "-Xmx1g", "-XX:+UseG1GC", "-Djava.awt.headless=true",
           f"-Dlog4j2.configurationFile={data_dir / 'log4j2.properties'}",
           "-cp", f"{libs}/*", "kafka.Kafka", str(config)]
    proc = subprocess.Popen(cmd, stdout=console, stderr=subprocess.STDOUT, start_new_session=True)
    _pid_file(data_dir).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (data_dir / "console.log").read_text(errors="replace")[-3000:]
            raise SystemExit(f"kafka exited with {proc.returncode}:\n{tail}")
        if _port_open(port):
            print(f"kafka {kafka_version()} running on 127.0.0.1:{port} (pid {proc.pid})")
            return
        time.sleep(0.3)
    stop(data_dir)
    raise SystemExit(f"kafka did not accept connections on {port} within {timeout:.0f}s")


def stop(data_dir: Path, timeout: float = 30.0) -> None:
    """Stop the broker (SIGTERM, then SIGKILL) and wait until no process is left."""
    pid = _read_pid(data_dir)
    if pid is None:
        print("kafka not running")
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _read_pid(data_dir) is not None:
            time.sleep(0.2)
        if _read_pid(data_dir) is None:
            break
    _pid_file(data_dir).unlink(missing_ok=True)
    print(f"kafka stopped (pid {pid})")


def status(data_dir: Path, port: int) -> int:
    pid = _read_pid(data_dir)
    if pid is not None and _port_open(port):
        print(f"running: pid {pid}, 127.0.0.1:{port}")
        return 0
    print("stopped")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["fetch", "start", "stop", "status"])
    parser.add_argument("--data-dir", type=Path, default=HOME / "kafka-data",
                        help="KRaft log dirs, config, pid and logs (default: %(default)s)")
    parser.add_argument("--port", type=int, default=9092, help="PLAINTEXT listener port")
    parser.add_argument("--controller-port", type=int, default=None,
                        help="CONTROLLER listener port (default: port + 1)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for start")
    parser.add_argument("--extra-properties", type=Path, default=None, metavar="FILE",
                        help="broker properties added to (or replacing) the generated ones")
    parser.add_argument("--add-scram", action="append", default=[], metavar="ENTRY",
                        help="SCRAM user created at format time, e.g. "
                        "'SCRAM-SHA-512=[name=svc,password=secret]' (repeatable)")
    args = parser.parse_args(argv)
    controller_port = args.controller_port or args.port + 1
    if args.command == "fetch":
        print(fetch())
    elif args.command == "start":
        start(args.data_dir, args.port, controller_port, args.timeout,
              args.extra_properties, args.add_scram)
    elif args.command == "stop":
        stop(args.data_dir)
    else:
        return status(args.data_dir, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
