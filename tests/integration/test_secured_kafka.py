"""Secured Kafka end to end: the service's own client configuration over TLS, mTLS and SASL_SSL.

A real Kafka 4 broker of its own (module scope, apart from the session's PLAINTEXT broker),
started by ``tools/kafka_broker.py`` with three more listeners: ``TLS`` (SSL, server certificate
only), ``MTLS`` (SSL, client certificate required) and ``SASL`` (SASL_SSL, SCRAM-SHA-512, the
user created when the storage is formatted). The certificates are made here with openssl; every
client verifies the broker against the test CA, host name included. Each security setting is
driven through the command line as an operator would, from a TOML config file:
``stream-align topics`` (admin client), ``replay`` (producer) and ``consume`` (consumer group);
the wrong-password case runs ``stream-align topics`` as its own process and reads its stderr.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from synthetic_dataset import write_synthetic_dataset
from tls_certs import CLIENT_KEY_PASSWORD, KEYSTORE_PASSWORD, Certificates, make_certificates

from stream_align.cli import main

ROOT = Path(__file__).resolve().parents[2]
BROKER_TOOL = ROOT / "tools" / "kafka_broker.py"
SCRAM_USER, SCRAM_PASSWORD = "stream-align", "scram-secret-4"
REPLAYED = 60
SCRAM_LOGIN = "org.apache.kafka.common.security.scram.ScramLoginModule required;"


def _free_ports(count: int) -> list[int]:
    """``count`` free ports, the first followed by a free one (the controller listener)."""
    for _ in range(50):
        socks = [socket.socket() for _ in range(count)]
        try:
            for sock in socks:
                sock.bind(("127.0.0.1", 0))
            ports = [sock.getsockname()[1] for sock in socks]
        finally:
            for sock in socks:
                sock.close()
        with socket.socket() as probe:
            if ports[0] + 1 not in ports and probe.connect_ex(("127.0.0.1", ports[0] + 1)) != 0:
                return ports
    raise RuntimeError("no free ports")


@dataclass(frozen=True)
class SecuredBroker:
    tls: str
    mtls: str
    sasl: str
    certs: Certificates


def _broker_properties(certs: Certificates, plain: int, tls: int, mtls: int, sasl: int) -> str:
    listeners = (f"PLAINTEXT://127.0.0.1:{plain},TLS://127.0.0.1:{tls},"
                 f"MTLS://127.0.0.1:{mtls},SASL://127.0.0.1:{sasl}")
    return f"""\
listeners={listeners},CONTROLLER://127.0.0.1:{plain + 1}
advertised.listeners={listeners}
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,TLS:SSL,MTLS:SSL,SASL:SASL_SSL
ssl.keystore.type=PKCS12
ssl.keystore.location={certs.server_p12}
ssl.keystore.password={KEYSTORE_PASSWORD}
ssl.key.password={KEYSTORE_PASSWORD}
ssl.truststore.type=PEM
ssl.truststore.location={certs.ca}
listener.name.mtls.ssl.client.auth=required
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl.scram-sha-512.sasl.jaas.config={SCRAM_LOGIN}
"""


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    root = tmp_path_factory.mktemp("secured-kafka")
    certs = make_certificates(root / "certs")
    plain, tls, mtls, sasl = _free_ports(4)
    extra = root / "secure.properties"
    extra.write_text(_broker_properties(certs, plain, tls, mtls, sasl))
    tool = [sys.executable, str(BROKER_TOOL)]
    data_dir = root / "data"
    subprocess.run([*tool, "start", "--port", str(plain), "--data-dir", str(data_dir),
                    "--extra-properties", str(extra), "--add-scram",
                    f"SCRAM-SHA-512=[name={SCRAM_USER},password={SCRAM_PASSWORD}]"], check=True)
    try:
        yield SecuredBroker(f"127.0.0.1:{tls}", f"127.0.0.1:{mtls}", f"127.0.0.1:{sasl}", certs)
    finally:
        subprocess.run([*tool, "stop", "--data-dir", str(data_dir)], check=True)


def _config(path: Path, kafka: dict[str, object]) -> Path:
    """A TOML config with ``kafka`` and topic names unique to this test."""
    suffix = uuid.uuid4().hex[:8]
    kafka = {"triples_topic": f"kg.triples.{suffix}", "labels_topic": f"kg.labels.{suffix}",
             "alignment_events_topic": f"kg.alignment-events.{suffix}",
             "alignments_topic": f"kg.alignments.{suffix}",
             "dead_letter_topic": f"kg.triples.dlq.{suffix}",
             "labels_dead_letter_topic": f"kg.labels.dlq.{suffix}",
             "consumer_group": f"stream-align-{suffix}", "partitions": 2, **kafka}
    lines = ["[kafka]"] + [f"{key} = {json.dumps(value)}" for key, value in kafka.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAM_ALIGN_")}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "stream_align.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def _round_trip(config: Path, dataset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Create the topics, produce ``REPLAYED`` changes and consume them back, over ``config``
    (in this process: the same command-line code, without paying its start-up three times)."""
    def run(*args: str) -> dict:
        assert main([*args, "--config", str(config)]) == 0
        out = capsys.readouterr().out.strip()
        return json.loads(out if out.startswith("{\n") else out.splitlines()[-1])

    topics = run("topics")
    assert sorted(topics["created"]) == sorted(topics["topics"]) and not topics["errors"]
    assert run("replay", "--dataset", str(dataset), "--limit", str(REPLAYED), "--no-labels",
               "--no-progress")["published_triple_changes"] == REPLAYED
    summary = run("consume", "--until-idle", "3")
    assert summary["consumed"] == REPLAYED and not summary["dead_letters"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("secured-data") / "pair", n=40)


@pytest.mark.integration
def test_tls_verifying_the_broker_against_its_ca(
        secured_broker: SecuredBroker, dataset: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _round_trip(_config(tmp_path / "tls.toml", {
        "bootstrap_servers": secured_broker.tls, "security_protocol": "SSL",
        "ssl_ca_location": str(secured_broker.certs.ca)}), dataset, capsys)


@pytest.mark.integration
def test_mtls_with_an_encrypted_client_key(
        secured_broker: SecuredBroker, dataset: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    certs = secured_broker.certs
    _round_trip(_config(tmp_path / "mtls.toml", {
        "bootstrap_servers": secured_broker.mtls, "security_protocol": "SSL",
        "ssl_ca_location": str(certs.ca), "ssl_certificate_location": str(certs.client_cert),
        "ssl_key_location": str(certs.client_key), "ssl_key_password": CLIENT_KEY_PASSWORD,
    }), dataset, capsys)


@pytest.mark.integration
def test_sasl_ssl_scram_sha_512(
        secured_broker: SecuredBroker, dataset: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    scram = {"bootstrap_servers": secured_broker.sasl, "security_protocol": "SASL_SSL",
             "sasl_mechanism": "SCRAM-SHA-512", "sasl_username": SCRAM_USER,
             "ssl_ca_location": str(secured_broker.certs.ca)}
    config = _config(tmp_path / "scram.toml", {**scram, "sasl_password": SCRAM_PASSWORD})
    _round_trip(config, dataset, capsys)
    assert main(["config", "--show", "--config", str(config)]) == 0
    assert SCRAM_PASSWORD not in capsys.readouterr().out
    wrong = _cli("topics", "--config", str(_config(tmp_path / "wrong.toml", {
        **scram, "sasl_password": "not-the-password"})))
    assert wrong.returncode != 0
    assert "Authentication failed" in wrong.stderr, wrong.stderr
    assert "not-the-password" not in wrong.stderr + wrong.stdout
