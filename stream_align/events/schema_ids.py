"""Where the schema id of the Confluent wire format comes from.

Contract: a ``SchemaIds`` gives the id to write in the header of an encoded message, and for an id
read from a header, the writer schema to read the body with (``None``: the contract's own schema).

- ``FixedSchemaIds`` (no registry configured): one id per subject, fixed in ``CodecSettings``;
  producers and consumers must agree on it, and a message with any other id is refused. The
  fixed ids share their number space with registry-assigned ids, so a topic must not mix both.
- ``RegistrySchemaIds`` (``schema_registry_url`` set): the contract's schema is looked up (or,
  with ``auto_register_schemas``, registered) under the subject its strategy names for the
  topic written to (``schema_registry``), and a writer schema is fetched by id, so a consumer
  reads messages written with an older or newer compatible schema through Avro resolution.
  A schema missing from its subject is a configuration error (``SCHEMA_NOT_REGISTERED``) that
  says how to register it; an unreachable registry is retried by ``RetryingRegistry`` first.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import fastavro

from stream_align.events.errors import DecodeError, EncodeError, Reason


class SchemaIds(Protocol):
    def id_for_writing(self) -> int:
        """Id to put in the header of a message this process writes."""
        ...

    def writer_schema(self, schema_id: int) -> dict[str, Any] | None:
        """Parsed writer schema for ``schema_id``, or ``None`` when it is the contract's own."""
        ...


class FixedSchemaIds:
    """One configured id per subject, for deployments without a Schema Registry."""

    def __init__(self, schema_id: int) -> None:
        self._id = schema_id

    def id_for_writing(self) -> int:
        return self._id

    def writer_schema(self, schema_id: int) -> dict[str, Any] | None:
        if schema_id != self._id:
            raise DecodeError(
                Reason.UNKNOWN_SCHEMA_ID,
                f"schema id {schema_id} is not the configured id {self._id}",
            )
        return None


def _avro_schema(schema_text: str) -> Any:
    """The registry's ``Schema`` value; imported late for the same reason as the client."""
    from confluent_kafka.schema_registry import Schema

    return Schema(schema_text, "AVRO")


class RegistrySchemaIds:
    """Ids from a Schema Registry; ``client`` is a ``SchemaRegistryClient`` or a stand-in."""

    def __init__(
        self, client: Any, subject: str | None, schema_text: str, *, auto_register: bool
    ) -> None:
        self._client = client
        self._subject = subject
        self._schema_text = schema_text
        self._auto_register = auto_register
        self._own_id: int | None = None
        self._writer_schemas: dict[int, dict[str, Any]] = {}

    def id_for_writing(self) -> int:
        if self._own_id is None:
            self._own_id = self._resolve_own_id()
        return self._own_id

    def _resolve_own_id(self) -> int:
        if self._subject is None:
            raise EncodeError(Reason.UNENCODABLE, "a codec that writes under a topic-based "
                              "subject name strategy needs the topic it writes to")
        try:
            schema = _avro_schema(self._schema_text)
            if self._auto_register:
                return int(self._client.register_schema(self._subject, schema))
            return int(self._client.lookup_schema(self._subject, schema).schema_id)
        except Exception as exc:
            if getattr(exc, "http_status_code", None) == 404 and not self._auto_register:
                raise EncodeError(
                    Reason.SCHEMA_NOT_REGISTERED,
                    f"this version of the schema is not registered under subject "
                    f"{self._subject}: register it (`stream-align schemas --register`) or set "
                    "codec.auto_register_schemas = true",
                ) from exc
            raise EncodeError(
                Reason.REGISTRY_UNAVAILABLE,
                f"cannot get an id for subject {self._subject}: {type(exc).__name__}: {exc}",
            ) from exc

    def writer_schema(self, schema_id: int) -> dict[str, Any] | None:
        if schema_id == self._own_id:
            return None
        if schema_id not in self._writer_schemas:
            self._writer_schemas[schema_id] = self._fetch(schema_id)
        return self._writer_schemas[schema_id]

    def _fetch(self, schema_id: int) -> dict[str, Any]:
        """Fetch and parse a writer schema; a 404 is bad input, anything else infrastructure."""
        try:
            text = self._client.get_schema(schema_id).schema_str
        except Exception as exc:
            if getattr(exc, "http_status_code", None) == 404:
                raise DecodeError(
                    Reason.UNKNOWN_SCHEMA_ID, f"schema id {schema_id} is not in the registry"
                ) from exc
            raise DecodeError(
                Reason.REGISTRY_UNAVAILABLE,
                f"cannot fetch schema id {schema_id}: {type(exc).__name__}: {exc}",
            ) from exc
        try:
            return fastavro.parse_schema(json.loads(text))
        except Exception as exc:
            raise DecodeError(
                Reason.SCHEMA_MISMATCH, f"schema id {schema_id} is not a usable Avro schema"
            ) from exc
