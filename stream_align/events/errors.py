"""Errors of the event codec.

Contract: ``Codec.decode`` raises ``DecodeError`` and nothing else; ``Codec.encode`` raises
``EncodeError`` and nothing else. Each carries a short machine-readable ``reason`` (a ``Reason``,
which is a ``str``) that the service writes into a dead letter, and a human ``message`` bounded in
length so that an error about a 1 MiB input cannot itself make an oversized dead letter.
"""

from enum import StrEnum

from stream_align.errors import StreamAlignError

MAX_MESSAGE_CHARS = 500


class Reason(StrEnum):
    """Why an event could not be encoded or decoded."""

    OVERSIZED = "oversized"
    """The encoded form is larger than ``CodecSettings.max_bytes``."""
    NOT_BYTES = "not_bytes"
    """``decode`` was given something that is not bytes (e.g. a Kafka tombstone's ``None``)."""
    INVALID_UTF8 = "invalid_utf8"
    """Text (the JSON document, or an Avro string) is not valid UTF-8."""
    INVALID_JSON = "invalid_json"
    """Not a JSON document (NaN and Infinity are refused too: they are not JSON)."""
    WRONG_TYPE = "wrong_type"
    """The JSON document is not an object, or ``encode`` got a model of another contract."""
    SCHEMA_VIOLATION = "schema_violation"
    """The record does not conform to the Avro schema (missing field, wrong type, bad symbol)."""
    INVARIANT_VIOLATION = "invariant_violation"
    """The record conforms to the schema but breaks a rule of the typed contract."""
    UNKNOWN_SYMBOL = "unknown_symbol"
    """An enum symbol this reader does not know (a newer schema's): read as the enum's default
    ``UNKNOWN``, which no contract accepts, so the event cannot be used by this version."""
    OVERSIZED_KEY = "oversized_key"
    """A key, relation, type, graph id, source or event id over ``limits.max_key_bytes``."""
    OVERSIZED_ENTITY = "oversized_entity"
    """An UPSERT_ENTITY over ``limits.max_attributes`` or ``limits.max_attribute_bytes``."""
    TOO_DEEP = "too_deep"
    """A JSON document nested deeper than ``limits.max_depth``."""
    TRUNCATED = "truncated"
    """The Avro message ends before the record does."""
    TRAILING_BYTES = "trailing_bytes"
    """The Avro message goes on after the record ends."""
    BAD_MAGIC_BYTE = "bad_magic_byte"
    """The first byte is not the Confluent wire format's magic byte 0."""
    UNKNOWN_SCHEMA_ID = "unknown_schema_id"
    """The schema id in the header is neither the configured id nor known to the registry."""
    SCHEMA_MISMATCH = "schema_mismatch"
    """The registry's writer schema cannot be read as this contract (another record type)."""
    INVALID_AVRO = "invalid_avro"
    """The Avro body is malformed in some other way (bad enum index, bad union branch, ...)."""
    REGISTRY_UNAVAILABLE = "registry_unavailable"
    """The registry failed or stayed unreachable through the retries: not bad input."""
    SCHEMA_NOT_REGISTERED = "schema_not_registered"
    """Auto-registration is off and the registry lacks our schema under its subject: a
    deployment error, not bad input."""
    UNDECODABLE = "undecodable"
    """Anything unforeseen, wrapped at the ``decode`` boundary so that nothing else escapes."""
    UNENCODABLE = "unencodable"
    """Anything unforeseen while encoding, wrapped at the ``encode`` boundary."""


class CodecError(StreamAlignError):
    """An event could not be encoded or decoded; ``reason`` says why in one word."""

    def __init__(self, reason: Reason, message: str) -> None:
        if len(message) > MAX_MESSAGE_CHARS:
            message = message[: MAX_MESSAGE_CHARS - 3] + "..."
        super().__init__(reason, message)
        self.reason = Reason(reason)
        self.message = message

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"

    @property
    def is_bad_input(self) -> bool:
        """False for an infrastructure failure: the input is fine and must not be dead-lettered."""
        return self.reason not in (Reason.REGISTRY_UNAVAILABLE, Reason.SCHEMA_NOT_REGISTERED)


class DecodeError(CodecError):
    """Bytes could not be turned into a valid event; the only error ``Codec.decode`` raises."""


class EncodeError(CodecError):
    """An event could not be turned into bytes; the only error ``Codec.encode`` raises."""
