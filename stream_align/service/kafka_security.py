"""How stream-align's Kafka clients authenticate and encrypt: TLS, mTLS, SASL, OAUTHBEARER.

``KafkaSecurity`` is the security half of ``KafkaSettings`` (kept apart so the topic layout and
the connection's security evolve separately). It maps typed, validated settings to librdkafka
properties, and lets an operator pass any other librdkafka property through ``extra_config``
(every client) and ``consumer_extra_config`` / ``producer_extra_config`` (one kind of client),
as quix-streams does. Combinations librdkafka would accept and then fail on at connect time
(``SASL_SSL`` without a mechanism, a certificate without its key, TLS files on a plaintext
connection) are refused when the settings are built, with the setting to fix in the message.

Secrets are ``SecretStr``; a passthrough value under a secret-looking key
(``ssl.keystore.password``, ``sasl.oauthbearer.client.secret``, ...) becomes a ``SecretStr`` too,
so ``repr``, ``config --show`` and logs print it masked. Only ``client_config`` unwraps them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from stream_align.secrets import is_secret_key

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
ClientRole = Literal["admin", "consumer", "producer"]
ExtraValue = SecretStr | bool | int | float | str
ExtraConfig = dict[str, ExtraValue]

TYPED_KEYS: dict[str, str] = {
    "bootstrap.servers": "bootstrap_servers", "client.id": "client_id",
    "security.protocol": "security_protocol", "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism", "sasl.username": "sasl_username",
    "sasl.password": "sasl_password", "ssl.ca.location": "ssl_ca_location",
    "ssl.certificate.location": "ssl_certificate_location",
    "ssl.key.location": "ssl_key_location", "ssl.key.password": "ssl_key_password",
    "ssl.endpoint.identification.algorithm": "ssl_endpoint_identification",
    "sasl.oauthbearer.token.endpoint.url": "sasl_oauthbearer_token_endpoint_url",
    "sasl.oauthbearer.client.id": "sasl_oauthbearer_client_id",
    "sasl.oauthbearer.client.secret": "sasl_oauthbearer_client_secret",
    "sasl.oauthbearer.scope": "sasl_oauthbearer_scope",
}
"""librdkafka properties that have a typed setting: the passthrough refuses them."""

SERVICE_KEYS = frozenset({
    "group.id", "group.instance.id", "enable.auto.commit", "enable.auto.offset.store",
    "isolation.level", "enable.partition.eof", "auto.offset.reset", "enable.idempotence",
    "acks", "transactional.id",
})
"""Properties the exactly-once design depends on (offsets live in the store, the producer is
idempotent): changing them through the passthrough would silently break a guarantee."""

SSL_PROTOCOLS = ("SSL", "SASL_SSL")
SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")


class KafkaSecurity(BaseModel):
    """TLS / mTLS / SASL settings of every Kafka client, and the librdkafka passthrough."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers.")
    client_id: str = Field("stream-align", description="Client id prefix for producers/consumers.")
    security_protocol: SecurityProtocol = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL (TLS, and mTLS with a client certificate), "
        "SASL_PLAINTEXT or SASL_SSL.")
    sasl_mechanism: SaslMechanism | None = Field(
        None, description="With SASL_*: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER (OIDC).")
    sasl_username: str | None = Field(None, description="SASL PLAIN/SCRAM user name.")
    sasl_password: SecretStr | None = Field(None, description="SASL PLAIN/SCRAM password.")
    ssl_ca_location: str | None = Field(
        None, description="PEM file of the CA that signed the brokers' certificates "
        "(default: the system's trust store).")
    ssl_certificate_location: str | None = Field(
        None, description="mTLS: PEM file of this client's certificate (needs ssl_key_location).")
    ssl_key_location: str | None = Field(
        None, description="mTLS: PEM file of this client's private key.")
    ssl_key_password: SecretStr | None = Field(
        None, description="mTLS: password of an encrypted private key.")
    ssl_endpoint_identification: bool = Field(
        True, description="Check that a broker's certificate names the host connected to "
        "(turn off only for brokers whose certificates lack their addresses).")
    sasl_oauthbearer_token_endpoint_url: str | None = Field(
        None, description="OAUTHBEARER: the OIDC token endpoint (client credentials grant).")
    sasl_oauthbearer_client_id: str | None = Field(None, description="OAUTHBEARER: client id.")
    sasl_oauthbearer_client_secret: SecretStr | None = Field(
        None, description="OAUTHBEARER: client secret.")
    sasl_oauthbearer_scope: str | None = Field(
        None, description="OAUTHBEARER: scope requested with the token (optional).")
    extra_config: ExtraConfig = Field(
        default_factory=dict, description="Other librdkafka properties for every client, e.g. "
        '{"socket.keepalive.enable": true}; values under secret-looking keys are masked.')
    consumer_extra_config: ExtraConfig = Field(
        default_factory=dict, description="Other librdkafka properties for consumers only.")
    producer_extra_config: ExtraConfig = Field(
        default_factory=dict, description="Other librdkafka properties for producers only "
        '(e.g. {"linger.ms": 50}).')

    @field_validator("extra_config", "consumer_extra_config", "producer_extra_config")
    @classmethod
    def _passthrough(cls, value: ExtraConfig) -> ExtraConfig:
        """Refuse what a typed setting or the service owns; hide secret-looking values."""
        for key in value:
            if key in TYPED_KEYS:
                raise ValueError(f"{key!r} has a typed setting: use kafka.{TYPED_KEYS[key]}")
            if key in SERVICE_KEYS:
                raise ValueError(f"{key!r} is set by stream-align itself (offsets and delivery "
                                 "guarantees depend on it)")
        return {k: SecretStr(str(v)) if is_secret_key(k) and not isinstance(v, SecretStr)
                else v for k, v in value.items()}

    @model_validator(mode="after")
    def _coherent(self) -> KafkaSecurity:
        problem = _security_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    def client_config(self, role: ClientRole = "admin",
                      own: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """librdkafka properties for one client: connection and security, the client's own
        ``own`` properties, then the operator's passthrough (common, then per role)."""
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.client_id,
            "security.protocol": self.security_protocol,
            **self._ssl_config(), **self._sasl_config(), **(own or {}),
        }
        extras = {"consumer": self.consumer_extra_config,
                  "producer": self.producer_extra_config}.get(role, {})
        for key, value in {**self.extra_config, **extras}.items():
            config[key] = value.get_secret_value() if isinstance(value, SecretStr) else value
        return config

    def _ssl_config(self) -> dict[str, str]:
        if self.security_protocol not in SSL_PROTOCOLS:
            return {}
        config = {"ssl.endpoint.identification.algorithm":
                  "https" if self.ssl_endpoint_identification else "none"}
        optional = {"ssl.ca.location": self.ssl_ca_location,
                    "ssl.certificate.location": self.ssl_certificate_location,
                    "ssl.key.location": self.ssl_key_location,
                    "ssl.key.password": _reveal(self.ssl_key_password)}
        config.update({k: v for k, v in optional.items() if v is not None})
        return config

    def _sasl_config(self) -> dict[str, str]:
        if self.sasl_mechanism is None:
            return {}
        if self.sasl_mechanism == "OAUTHBEARER":
            optional = {"sasl.oauthbearer.method": "oidc",
                        "sasl.oauthbearer.token.endpoint.url":
                            self.sasl_oauthbearer_token_endpoint_url,
                        "sasl.oauthbearer.client.id": self.sasl_oauthbearer_client_id,
                        "sasl.oauthbearer.client.secret":
                            _reveal(self.sasl_oauthbearer_client_secret),
                        "sasl.oauthbearer.scope": self.sasl_oauthbearer_scope}
        else:
            optional = {"sasl.username": self.sasl_username,
                        "sasl.password": _reveal(self.sasl_password)}
        config = {"sasl.mechanism": self.sasl_mechanism}
        config.update({k: v for k, v in optional.items() if v is not None})
        return config


def _reveal(secret: SecretStr | None) -> str | None:
    return None if secret is None else secret.get_secret_value()


def _security_problem(s: KafkaSecurity) -> str | None:
    """The first incoherent combination of security settings, said as what to change."""
    sasl = s.security_protocol in SASL_PROTOCOLS
    if sasl and s.sasl_mechanism is None:
        return (f"kafka.security_protocol {s.security_protocol} needs kafka.sasl_mechanism "
                "(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)")
    if not sasl and s.sasl_mechanism is not None:
        return (f"kafka.sasl_mechanism is set but kafka.security_protocol is "
                f"{s.security_protocol}: use SASL_SSL (or SASL_PLAINTEXT)")
    tls_files = [name for name in ("ssl_ca_location", "ssl_certificate_location",
                                   "ssl_key_location", "ssl_key_password")
                 if getattr(s, name) is not None]
    if tls_files and s.security_protocol not in SSL_PROTOCOLS:
        return (f"kafka.{tls_files[0]} is set but kafka.security_protocol is "
                f"{s.security_protocol}: use SSL or SASL_SSL")
    if (s.ssl_certificate_location is None) != (s.ssl_key_location is None):
        return ("mTLS needs both kafka.ssl_certificate_location and kafka.ssl_key_location "
                "(a certificate without its key, or a key without its certificate)")
    if s.ssl_key_password is not None and s.ssl_key_location is None:
        return "kafka.ssl_key_password is set without kafka.ssl_key_location"
    return _sasl_credentials_problem(s)


def _sasl_credentials_problem(s: KafkaSecurity) -> str | None:
    password_kind = s.sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    has_password = s.sasl_username is not None or s.sasl_password is not None
    if password_kind and (s.sasl_username is None or s.sasl_password is None):
        return f"SASL {s.sasl_mechanism} needs kafka.sasl_username and kafka.sasl_password"
    if has_password and not password_kind:
        return ("kafka.sasl_username / sasl_password are used only with sasl_mechanism PLAIN "
                "or SCRAM-*")
    oidc = {"sasl_oauthbearer_token_endpoint_url": s.sasl_oauthbearer_token_endpoint_url,
            "sasl_oauthbearer_client_id": s.sasl_oauthbearer_client_id,
            "sasl_oauthbearer_client_secret": s.sasl_oauthbearer_client_secret}
    if s.sasl_mechanism == "OAUTHBEARER":
        missing = [name for name, value in oidc.items() if value is None]
        if missing:
            return f"SASL OAUTHBEARER (OIDC) needs kafka.{', kafka.'.join(missing)}"
    elif any(v is not None for v in oidc.values()) or s.sasl_oauthbearer_scope is not None:
        return "kafka.sasl_oauthbearer_* settings are used only with sasl_mechanism OAUTHBEARER"
    return None
