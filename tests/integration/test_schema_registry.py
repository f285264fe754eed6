"""The Schema Registry path with Confluent's real client, over real HTTP(S), and the real broker.

No Schema Registry server can run here, so ``registry_server.RegistryServer`` implements the
three REST endpoints stream-align calls (register, look up, fetch by id) in the test process;
everything on our side (settings → ``SchemaRegistryClient`` configuration, basic auth, TLS and
mTLS, subject names, auto-registration off, retries through an outage) is the production code.
Kafka is the session's real broker.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import structlog
from pydantic import SecretStr
from registry_server import RegistryServer
from synthetic_dataset import write_synthetic_dataset
from tls_certs import CLIENT_KEY_PASSWORD, make_certificates

from stream_align.cli import main
from stream_align.events.codec import Codec, CodecSettings, Encoding
from stream_align.events.contracts import Label
from stream_align.events.errors import EncodeError, Reason
from stream_align.service.batch import BatchCodec
from stream_align.service.settings import KafkaSettings

LABEL = Label.new(left="a", right="b", label="MATCH", source="seed", event_time=1)


def _settings(url: str, **more: object) -> CodecSettings:
    return CodecSettings(encoding=Encoding.AVRO, schema_registry_url=url, **more)


@pytest.mark.integration
def test_basic_auth_and_mtls_reach_the_registry(tmp_path: Path) -> None:
    certs = make_certificates(tmp_path / "certs")
    with RegistryServer(user_info="sr-user:sr-secret", cert=certs.server_cert,
                        key=certs.server_key, client_ca=certs.ca) as registry:
        tls = {"schema_registry_ssl_ca_location": str(certs.ca),
               "schema_registry_ssl_certificate_location": str(certs.client_cert),
               "schema_registry_ssl_key_location": str(certs.client_key),
               "schema_registry_ssl_key_password": CLIENT_KEY_PASSWORD}
        good = _settings(registry.url, schema_registry_username="sr-user",
                         schema_registry_password="sr-secret", auto_register_schemas=True, **tls)
        data = Codec(Label, good, topic="kg.labels").encode(LABEL)
        assert registry.state.subjects == {"kg.labels-value": [int.from_bytes(data[1:5], "big")]}
        assert Codec(Label, good).decode(data) == LABEL

        wrong = good.model_copy(update={"schema_registry_password": SecretStr("nope")})
        with pytest.raises(EncodeError, match="Unauthorized") as caught:
            Codec(Label, wrong, topic="kg.labels").encode(LABEL)
        assert not caught.value.is_bad_input
        assert sum("POST" in r for r in registry.state.requests) == 2  # a 401 is not retried


@pytest.mark.integration
def test_run_looks_up_its_output_subjects_and_says_which_are_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    kafka = KafkaSettings()
    with RegistryServer() as registry:
        codec = _settings(registry.url)  # auto-registration off: the default
        with pytest.raises(EncodeError, match=r"kg\.alignment-events-value") as caught:
            BatchCodec(kafka, codec).prepare()
        assert caught.value.reason is Reason.SCHEMA_NOT_REGISTERED
        assert not registry.state.subjects  # only looked up

        monkeypatch.setenv("STREAM_ALIGN_CODEC__SCHEMA_REGISTRY_URL", registry.url)
        assert main(["schemas"]) == 1
        assert json.loads(capsys.readouterr().out)["missing"] == 6
        assert main(["schemas", "--register"]) == 0
        rows = json.loads(capsys.readouterr().out)["schemas"]
        assert {r["subject"] for r in rows} == {
            "kg.triples-value", "kg.labels-value", "kg.alignment-events-value",
            "kg.alignments-value", "kg.triples.dlq-value", "kg.labels.dlq-value"}
        BatchCodec(kafka, codec).prepare()
        assert main(["schemas"]) == 0


@pytest.mark.integration
def test_an_outage_is_retried_with_backoff_then_given_up() -> None:
    with RegistryServer() as registry:
        codec = _settings(registry.url, auto_register_schemas=True, schema_registry_retry_s=5)
        registry.state.fail_next = 3
        with structlog.testing.capture_logs() as logs:
            data = Codec(Label, codec, topic="kg.labels").encode(LABEL)
        assert data[0] == 0 and len(registry.state.requests) == 4
        retries = [e for e in logs if e["event"] == "schema registry unavailable, retrying"]
        assert [e["wait_s"] for e in retries] == [0.5, 1.0, 2.0]
        assert logs[-1]["event"] == "schema registry reachable again"
        registry.stop()
        bounded = _settings(registry.url, auto_register_schemas=True, schema_registry_retry_s=1)
        with pytest.raises(EncodeError) as caught:
            Codec(Label, bounded, topic="kg.labels").encode(LABEL)
        assert caught.value.reason is Reason.REGISTRY_UNAVAILABLE


@pytest.mark.integration
def test_replay_and_consume_in_avro_through_the_registry(
        kafka_config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Producer and consumer agree through registry ids under TopicNameStrategy."""
    dataset = write_synthetic_dataset(tmp_path / "pair", n=30)
    with RegistryServer() as registry:
        config = kafka_config_file.read_text() + (
            f'[codec]\nencoding = "avro"\nschema_registry_url = "{registry.url}"\n')
        kafka_config_file.write_text(config)
        common = ["--config", str(kafka_config_file)]
        assert main(["topics", *common]) == 0
        assert main(["schemas", "--register", *common]) == 0
        assert main(["replay", "--dataset", str(dataset), "--limit", "50", "--no-labels",
                     "--no-progress", *common]) == 0
        registry.state.fail_next = 2  # the consumer's first schema fetch meets an outage
        capsys.readouterr()
        assert main(["consume", "--until-idle", "3", *common]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["consumed"] == 50 and not summary["dead_letters"]
        assert registry.state.fail_next == 0  # the outage was met, and retried through
