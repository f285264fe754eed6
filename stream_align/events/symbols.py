"""Enum symbols a reader does not know, read as the enum's default — for JSON as for Avro.

Avro schema resolution gives a reader the enum's ``default`` for a symbol its schema lacks;
fastavro does that for Avro bodies. JSON has no writer schema to resolve against, so the codec
applies the same rule here: a string where the schema has an enum, that is not one of its
symbols, becomes the default (``UNKNOWN`` in every contract). Only called for a record that
failed validation, so valid input pays nothing.
"""

from __future__ import annotations

from typing import Any

Enums = dict[str, tuple[frozenset[str], str | None]]


def enum_defaults(schema: Any, found: Enums | None = None) -> Enums:
    """Every enum the schema defines, by full name: its symbols and its default."""
    found = {} if found is None else found
    if isinstance(schema, list):
        for branch in schema:
            enum_defaults(branch, found)
    elif isinstance(schema, dict):
        if schema.get("type") == "enum":
            found[schema["name"]] = (frozenset(schema["symbols"]), schema.get("default"))
        for field in schema.get("fields", ()):
            enum_defaults(field["type"], found)
        for key in ("items", "values"):
            if key in schema:
                enum_defaults(schema[key], found)
    return found


def resolve_symbols(schema: Any, datum: Any, enums: Enums) -> Any:
    """``datum`` with each unknown enum symbol replaced by its enum's default (if it has one)."""
    name = schema if isinstance(schema, str) else None
    if isinstance(schema, dict):
        kind = schema["type"]
        name = schema["name"] if kind == "enum" else None
        if kind == "record" and isinstance(datum, dict):
            types = {f["name"]: f["type"] for f in schema["fields"]}
            return {k: resolve_symbols(types[k], v, enums) if k in types else v
                    for k, v in datum.items()}
        if kind == "array" and isinstance(datum, list):
            return [resolve_symbols(schema["items"], v, enums) for v in datum]
        if kind == "map" and isinstance(datum, dict):
            return {k: resolve_symbols(schema["values"], v, enums) for k, v in datum.items()}
    if isinstance(schema, list) and isinstance(datum, str):
        branch = next((b for b in schema if _enum_name(b) in enums), None)
        return datum if branch is None else resolve_symbols(branch, datum, enums)
    if name in enums and isinstance(datum, str):
        symbols, default = enums[name]
        if datum not in symbols and default is not None:
            return default
    return datum


def _enum_name(schema: Any) -> str | None:
    if isinstance(schema, str):
        return schema
    if isinstance(schema, dict) and schema.get("type") == "enum":
        return str(schema["name"])
    return None
