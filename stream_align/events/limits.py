"""Input limits: what one event may carry, checked once, when it is decoded.

Contract: ``Codec.decode`` validates every event with these limits (passed to pydantic as the
validation context under ``LIMITS``), so an event that passed decode fits every later stage —
the store's length-prefixed keys (each component at most ``KEY_COMPONENT_BYTES``), its entity
values, the engine, and the outgoing alignment events that copy keys and event ids. Breaking a
limit is a ``DecodeError`` with its own one-word reason (``oversized_key``, ``oversized_entity``,
``too_deep``), so it becomes a dead letter before anything is applied. Constructing a model
directly (inside the service) does not apply them: they guard input, not the service's own
events.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo
from pydantic_core import PydanticCustomError

from stream_align.events.errors import Reason

LIMITS = "limits"
"""Key of the limits in the pydantic validation context."""
KEY_COMPONENT_BYTES = 0xFFFF
"""The store writes each key component behind a 2-byte length (``store.keys``): its ceiling."""


class InputLimits(BaseModel):
    """The limits of one event; defaults fit real knowledge graphs with a wide margin."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_key_bytes: int = Field(
        default=1024, ge=1, le=KEY_COMPONENT_BYTES,
        description=("UTF-8 bytes of one entity key, relation, entity type, graph id, label "
                     "source or event id (longest in the bundled datasets: 243). At most 65535, "
                     "the store's key component limit; keys are copied into alignment events "
                     "(evidence, cause), so the CLI also checks they fit codec.max_bytes."),
    )
    max_attributes: int = Field(
        default=256, ge=0, description="Attributes of one UPSERT_ENTITY."
    )
    max_attribute_bytes: int = Field(
        default=65_536, ge=0,
        description="UTF-8 bytes of one UPSERT_ENTITY's attribute names and values together.",
    )
    max_depth: int = Field(
        default=16, ge=4,
        description=("Nesting of a JSON document (objects and arrays); the contracts need 3, "
                     "deeper input is a broken or hostile producer."),
    )


def limits_of(info: ValidationInfo) -> InputLimits | None:
    """The limits a validator runs under (``None``: a model built in code, not decoded)."""
    context: Any = info.context
    return context.get(LIMITS) if isinstance(context, dict) else None


def check_key(value: str, info: ValidationInfo) -> str:
    """A pydantic after-validator for keys: at most ``max_key_bytes`` UTF-8 bytes."""
    limits = limits_of(info)
    if limits is not None and len(value) * 4 > limits.max_key_bytes:  # else cannot exceed
        size = len(value.encode("utf-8"))
        if size > limits.max_key_bytes:
            raise PydanticCustomError(
                Reason.OVERSIZED_KEY.value, "{size} bytes > max_key_bytes {limit}",
                {"size": size, "limit": limits.max_key_bytes})
    return value


def check_attributes(value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
    """A pydantic after-validator for entity attributes: count and total UTF-8 bytes."""
    limits = limits_of(info)
    if limits is None or not value:
        return value
    if len(value) > limits.max_attributes:
        raise PydanticCustomError(
            Reason.OVERSIZED_ENTITY.value, "{count} attributes > max_attributes {limit}",
            {"count": len(value), "limit": limits.max_attributes})
    try:
        size = sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in value.items())
    except UnicodeEncodeError as exc:  # pydantic checks str fields, not a dict's strings
        raise PydanticCustomError("string_unicode", "a lone surrogate at {at}",
                                  {"at": exc.start}) from exc
    if size > limits.max_attribute_bytes:
        raise PydanticCustomError(
            Reason.OVERSIZED_ENTITY.value,
            "{size} attribute bytes > max_attribute_bytes {limit}",
            {"size": size, "limit": limits.max_attribute_bytes})
    return value


def depth_exceeds(document: object, limit: int) -> bool:
    """Whether ``document`` (parsed JSON) nests objects and arrays deeper than ``limit``;
    iterative, so a hostile document cannot exhaust the interpreter's stack."""
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False
