"""Kafka security settings: what reaches librdkafka, what is refused, what is never printed."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from stream_align.service.settings import KafkaSettings

SCRAM = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
         "sasl_username": "svc", "sasl_password": "hunter2", "ssl_ca_location": "/certs/ca.pem"}


def test_plaintext_default_has_no_security_properties() -> None:
    assert KafkaSettings().client_config() == {
        "bootstrap.servers": "127.0.0.1:9092", "client.id": "stream-align",
        "security.protocol": "PLAINTEXT"}


def test_mtls_properties() -> None:
    config = KafkaSettings(security_protocol="SSL", ssl_ca_location="/c/ca.pem",
                           ssl_certificate_location="/c/client.pem",
                           ssl_key_location="/c/client.key", ssl_key_password="kp",
                           ssl_endpoint_identification=False).client_config()
    assert config["ssl.ca.location"] == "/c/ca.pem"
    assert config["ssl.certificate.location"] == "/c/client.pem"
    assert config["ssl.key.location"] == "/c/client.key" and config["ssl.key.password"] == "kp"
    assert config["ssl.endpoint.identification.algorithm"] == "none"


def test_scram_and_oauthbearer_properties() -> None:
    config = KafkaSettings(**SCRAM).client_config()
    assert (config["sasl.mechanism"], config["sasl.username"], config["sasl.password"]) == (
        "SCRAM-SHA-512", "svc", "hunter2")
    assert config["ssl.endpoint.identification.algorithm"] == "https"
    oidc = KafkaSettings(security_protocol="SASL_SSL", sasl_mechanism="OAUTHBEARER",
                         sasl_oauthbearer_token_endpoint_url="https://idp/token",
                         sasl_oauthbearer_client_id="svc", sasl_oauthbearer_client_secret="cs",
                         sasl_oauthbearer_scope="kafka").client_config()
    assert oidc["sasl.oauthbearer.method"] == "oidc"
    assert oidc["sasl.oauthbearer.client.secret"] == "cs"
    assert oidc["sasl.oauthbearer.token.endpoint.url"] == "https://idp/token"
    assert "sasl.username" not in oidc


def test_passthrough_common_then_per_role() -> None:
    kafka = KafkaSettings(extra_config={"socket.keepalive.enable": True, "linger.ms": 1},
                          producer_extra_config={"linger.ms": 50},
                          consumer_extra_config={"fetch.max.bytes": 1 << 20})
    producer = kafka.client_config("producer", {"linger.ms": 20, "acks": "all"})
    assert producer["linger.ms"] == 50 and producer["acks"] == "all"
    assert producer["socket.keepalive.enable"] is True and "fetch.max.bytes" not in producer
    consumer = kafka.client_config("consumer", {"group.id": "g"})
    assert consumer["fetch.max.bytes"] == 1 << 20 and consumer["linger.ms"] == 1


@pytest.mark.parametrize(("settings", "message"), [
    ({"security_protocol": "TLS"}, "security_protocol"),
    ({"security_protocol": "SASL_SSL"}, "needs kafka.sasl_mechanism"),
    ({"sasl_mechanism": "PLAIN", "sasl_username": "u", "sasl_password": "p"},
     "use SASL_SSL"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}, "sasl_mechanism"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-256", "sasl_username": "u"},
     "needs kafka.sasl_username and kafka.sasl_password"),
    ({"ssl_ca_location": "/ca.pem"}, "use SSL or SASL_SSL"),
    ({"security_protocol": "SSL", "ssl_certificate_location": "/c.pem"}, "both"),
    ({"security_protocol": "SSL", "ssl_key_location": "/c.key"}, "both"),
    ({"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER",
      "sasl_oauthbearer_client_id": "x"}, "sasl_oauthbearer_token_endpoint_url"),
    ({**SCRAM, "sasl_oauthbearer_client_id": "x"}, "only with sasl_mechanism OAUTHBEARER"),
    ({"extra_config": {"security.protocol": "SSL"}}, "use kafka.security_protocol"),
    ({"consumer_extra_config": {"enable.auto.commit": True}}, "set by stream-align"),
])
def test_incoherent_settings_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        KafkaSettings(**settings)


def test_secrets_never_printed() -> None:
    kafka = KafkaSettings(**SCRAM, extra_config={"ssl.keystore.password": "ks-pw",
                                                 "sasl.kerberos.keytab.secret": "kt-pw"})
    assert isinstance(kafka.extra_config["ssl.keystore.password"], SecretStr)
    for text in (repr(kafka), str(kafka), kafka.model_dump_json()):
        assert "hunter2" not in text and "ks-pw" not in text and "kt-pw" not in text
    assert kafka.client_config()["ssl.keystore.password"] == "ks-pw"
    with pytest.raises(ValidationError) as caught:
        KafkaSettings(**{**SCRAM, "sasl_username": None})
    assert "hunter2" not in str(caught.value)
