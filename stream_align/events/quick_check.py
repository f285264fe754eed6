"""A quick, stricter form of fastavro's strict ``validate`` for flat records.

Decoding a JSON record spent a third of its time in ``fastavro.validation.validate`` (a generic
walk of the schema per record: `benchmarks/codec_decode.py`). For a record whose fields are
primitives, enums, nullable unions of those and maps of them — every contract's input — the
same test compiles to one small check per field. Each check is *stricter* than fastavro's
(``type(x) is str`` where fastavro takes any ``str`` subclass, ``int`` but never ``bool``), so a
record it passes is one ``validate`` passes; a record it fails is handed to ``validate``, which
decides (and words the error) as before. A schema with other types compiles to ``None``: no
quick check, ``validate`` every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastavro.const import INT_MAX_VALUE, INT_MIN_VALUE, LONG_MAX_VALUE, LONG_MIN_VALUE

Check = Callable[[Any], bool]


def _is_str(x: Any) -> bool:
    return type(x) is str


def _is_null(x: Any) -> bool:
    return x is None


def _is_bool(x: Any) -> bool:
    return type(x) is bool


def _int_in(low: int, high: int) -> Check:
    return lambda x: type(x) is int and low <= x <= high


def _enum(symbols: frozenset[str]) -> Check:
    return lambda x: type(x) is str and x in symbols


def _union(checks: list[Check]) -> Check:
    if len(checks) == 2 and checks[0] is _is_null:  # ["null", T]: most optional fields
        other = checks[1]
        return lambda x: x is None or other(x)
    return lambda x: any(one(x) for one in checks)


def _map(values: Check) -> Check:
    return lambda x: type(x) is dict and all(type(k) is str and values(v)
                                             for k, v in x.items())


def _compile(schema: Any) -> Check | None:
    """The check of one field type, or ``None`` where this module does not know it."""
    if isinstance(schema, list):
        branches = [_compile(branch) for branch in schema]
        return None if any(b is None for b in branches) else _union(branches)  # type: ignore[arg-type]
    name = schema.get("type") if isinstance(schema, dict) else schema
    if isinstance(schema, dict) and name == "enum":
        return _enum(frozenset(schema["symbols"]))
    if isinstance(schema, dict) and name == "map":
        values = _compile(schema["values"])
        return None if values is None else _map(values)
    if isinstance(schema, dict) and schema.get("logicalType") not in (None, "timestamp-millis"):
        return None  # other logical types convert their datum first
    return {"string": _is_str, "null": _is_null, "boolean": _is_bool,
            "int": _int_in(INT_MIN_VALUE, INT_MAX_VALUE),
            "long": _int_in(LONG_MIN_VALUE, LONG_MAX_VALUE)}.get(name)


def quick_check(schema: dict[str, Any]) -> Callable[[dict[str, Any]], bool] | None:
    """For a parsed record schema: a check of a record holding exactly the schema's fields
    (``Codec._project``'s output) that passes only records ``validate(strict=True)`` passes;
    ``None`` if a field's type is not flat."""
    fields = [(field["name"], _compile(field["type"])) for field in schema["fields"]]
    if any(check is None for _, check in fields):
        return None
    checks: list[tuple[str, Check]] = fields  # type: ignore[assignment]

    def passes(record: dict[str, Any]) -> bool:
        try:
            for name, check in checks:
                if not check(record[name]):
                    return False
        except KeyError:
            return False
        return True
    return passes
