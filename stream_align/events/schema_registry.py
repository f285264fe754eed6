"""Talking to a Confluent-compatible Schema Registry: settings, subjects, client, retries.

- ``RegistrySettings``: the registry half of ``CodecSettings``. Credentials are separate
  settings passed as Confluent's ``basic.auth.user.info``, TLS as ``ssl.*``: a URL with user
  info is refused (it would be printed, logged and stored wherever the URL goes).
- Subjects follow a configurable strategy. ``TopicNameStrategy`` (``<topic>-value``) is
  Confluent's default and what third-party producers use, so it is ours;
  ``RecordNameStrategy`` (the record's full name) and ``TopicRecordNameStrategy``
  (``<topic>-<record>``) are there for registries organised that way.
- ``RetryingRegistry`` retries what an outage looks like (connection errors, timeouts, HTTP
  5xx/408/429) with exponential backoff for at most ``schema_registry_retry_s`` seconds,
  logging each wait, so a registry restart does not stop the service; an answer such as 401,
  404 or 409 is final at once (retrying would not change it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from stream_align.secrets import url_has_userinfo

log = structlog.get_logger("stream_align.events.schema_registry")
T = TypeVar("T")

RETRIABLE_STATUS = frozenset({408, 429})
FIRST_WAIT_S = 0.5
MAX_WAIT_S = 8.0


class SubjectNameStrategy(StrEnum):
    """Confluent's subject name strategies (for record values)."""

    TOPIC = "TopicNameStrategy"
    RECORD = "RecordNameStrategy"
    TOPIC_RECORD = "TopicRecordNameStrategy"


def subject_name(strategy: SubjectNameStrategy, topic: str | None, record: str) -> str | None:
    """The subject a value of ``record`` written to ``topic`` is registered under (``None``
    when the strategy needs a topic and none is given: such a codec can only read)."""
    if strategy == SubjectNameStrategy.RECORD:
        return record
    if topic is None:
        return None
    if strategy == SubjectNameStrategy.TOPIC:
        return f"{topic}-value"
    return f"{topic}-{record}"


class RegistrySettings(BaseModel):
    """Where the Schema Registry is, how to authenticate to it, and the subject conventions."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    schema_registry_url: str | None = Field(
        default=None, description="Schema Registry URL(s), comma-separated, for avro; None uses "
        "schema_ids instead. Never with credentials: use schema_registry_username/password.")
    schema_registry_username: str | None = Field(
        default=None, description="Registry basic-auth user (Confluent basic.auth.user.info).")
    schema_registry_password: SecretStr | None = Field(
        default=None, description="Registry basic-auth password.")
    schema_registry_ssl_ca_location: str | None = Field(
        default=None, description="PEM file of the CA that signed the registry's certificate.")
    schema_registry_ssl_certificate_location: str | None = Field(
        default=None, description="mTLS to the registry: PEM file of this client's certificate.")
    schema_registry_ssl_key_location: str | None = Field(
        default=None, description="mTLS to the registry: PEM file of this client's private key.")
    schema_registry_ssl_key_password: SecretStr | None = Field(
        default=None, description="mTLS to the registry: password of an encrypted key.")
    schema_registry_timeout_s: float = Field(
        default=10.0, gt=0, description="Timeout of one registry request.")
    schema_registry_retry_s: float = Field(
        default=30.0, ge=0, description="How long an unavailable registry is retried (backoff "
        "0.5 s doubling to 8 s, each wait logged) before the service gives up; keep it below "
        "observability.liveness_timeout_s.")
    subject_name_strategy: SubjectNameStrategy = Field(
        default=SubjectNameStrategy.TOPIC, description="TopicNameStrategy (<topic>-value, "
        "Confluent's default), RecordNameStrategy or TopicRecordNameStrategy.")
    auto_register_schemas: bool = Field(
        default=False, description="With a registry: register our schemas on first write. Off: "
        "look the registered id up (register with `stream-align schemas --register`).")

    @field_validator("schema_registry_url")
    @classmethod
    def _no_credentials_in_url(cls, url: str | None) -> str | None:
        if url is not None and any(url_has_userinfo(u) for u in url.split(",")):
            raise ValueError("codec.schema_registry_url must not carry credentials: set "
                             "codec.schema_registry_username and schema_registry_password")
        return url

    @model_validator(mode="after")
    def _coherent(self) -> RegistrySettings:
        if (self.schema_registry_username is None) != (self.schema_registry_password is None):
            raise ValueError("registry basic auth needs both codec.schema_registry_username and "
                             "codec.schema_registry_password")
        if (self.schema_registry_ssl_key_location is not None
                and self.schema_registry_ssl_certificate_location is None):
            raise ValueError("codec.schema_registry_ssl_key_location needs "
                             "codec.schema_registry_ssl_certificate_location")
        return self

    def registry_client_config(self) -> dict[str, Any]:
        """``SchemaRegistryClient`` configuration (its own retries off: ours are logged)."""
        if self.schema_registry_url is None:
            raise ValueError("codec.schema_registry_url is not set")
        config: dict[str, Any] = {"url": self.schema_registry_url, "max.retries": 0,
                                  "timeout": self.schema_registry_timeout_s}
        if self.schema_registry_username is not None and self.schema_registry_password:
            config["basic.auth.user.info"] = (
                f"{self.schema_registry_username}:"
                f"{self.schema_registry_password.get_secret_value()}")
        optional = {
            "ssl.ca.location": self.schema_registry_ssl_ca_location,
            "ssl.certificate.location": self.schema_registry_ssl_certificate_location,
            "ssl.key.location": self.schema_registry_ssl_key_location,
            "ssl.key.password": (self.schema_registry_ssl_key_password.get_secret_value()
                                 if self.schema_registry_ssl_key_password else None),
        }
        config.update({k: v for k, v in optional.items() if v is not None})
        return config


def registry_client(settings: RegistrySettings) -> Any:
    """A ``SchemaRegistryClient``; imported late because it needs an optional extra."""
    try:
        from confluent_kafka.schema_registry import SchemaRegistryClient
    except ImportError as exc:
        raise ImportError(
            "schema_registry_url needs the Schema Registry client: "
            "pip install 'confluent-kafka[schemaregistry]'"
        ) from exc
    return SchemaRegistryClient(settings.registry_client_config())


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` looks like the registry being down (worth retrying), not an answer."""
    status = getattr(exc, "http_status_code", None)
    if status is None:
        return True  # no HTTP answer at all: refused, reset, timed out, DNS
    return status >= 500 or status in RETRIABLE_STATUS or status < 0


class RetryingRegistry:
    """A registry client whose calls survive an outage of up to ``retry_s`` seconds."""

    def __init__(self, client: Any, retry_s: float, *,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client, self._retry_s = client, retry_s
        self._sleep, self._clock = sleep, clock

    def register_schema(self, subject: str, schema: Any) -> int:
        return self._call(f"register {subject}", self._client.register_schema, subject, schema)

    def lookup_schema(self, subject: str, schema: Any) -> Any:
        return self._call(f"look up {subject}", self._client.lookup_schema, subject, schema)

    def get_schema(self, schema_id: int) -> Any:
        return self._call(f"fetch schema {schema_id}", self._client.get_schema, schema_id)

    def _call(self, what: str, fn: Callable[..., T], *args: Any) -> T:
        deadline = self._clock() + self._retry_s
        wait, failures = FIRST_WAIT_S, 0
        while True:
            try:
                result = fn(*args)
            except Exception as exc:
                if not is_outage(exc) or self._clock() + wait > deadline:
                    raise
                failures += 1
                log.warning("schema registry unavailable, retrying", request=what,
                            attempt=failures, wait_s=wait, error=f"{type(exc).__name__}: {exc}")
                self._sleep(wait)
                wait = min(wait * 2, MAX_WAIT_S)
                continue
            if failures:
                log.info("schema registry reachable again", request=what, failed_attempts=failures)
            return result
