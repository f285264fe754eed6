"""A quick, stricter form of fastavro's strict ``validate`` for flat records.

Decoding a JSON record spent a third of its time in ``fastavro.validation.validate`` (a generic
walk of the schema per record: `benchmarks/codec_decode.py`). For a record whose fields are
primitives, enums, nullable unions of those and maps of them — every contract's input — the
same test compiles to one small check per field. Each check is *stricter* than fastavro's
(``type(x) is str`` where fastavro takes any ``str`` subclass, ``int`` but never ``bool``), so a
record it passes is one ``validate`` passes; a record it fails is handed to ``validate``, which
decides (and words the error) as before. Arrays, doubles and nested records (and references to
a named type defined earlier) compile too, so the events the service writes — an
``AlignmentEvent`` carries an array of ``Evidence`` records and one of cause ids — skip the
generic walk on encode (40 µs of an event's 116 µs, decision 0059). A schema with other types
compiles to ``None``: no quick check, ``validate`` every time.
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


def _is_double(x: Any) -> bool:
    return type(x) is float or type(x) is int


def _enum(symbols: frozenset[str]) -> Check:
    # fastavro asks only ``x in symbols``: a StrEnum member (what ``to_record`` gives) is in
    return lambda x: isinstance(x, str) and x in symbols


def _union(checks: list[Check]) -> Check:
    # a tuple in a union is fastavro's (branch name, datum) notation: left to ``validate``
    if len(checks) == 2 and checks[0] is _is_null:  # ["null", T]: most optional fields
        other = checks[1]
        return lambda x: x is None or (type(x) is not tuple and other(x))
    return lambda x: type(x) is not tuple and any(one(x) for one in checks)


def _map(values: Check) -> Check:
    return lambda x: type(x) is dict and all(type(k) is str and values(v)
                                             for k, v in x.items())


def _array(items: Check) -> Check:
    return lambda x: (type(x) is list or type(x) is tuple) and all(items(v) for v in x)


def _compile(schema: Any, named: dict[str, Check]) -> Check | None:
    """The check of one field type, or ``None`` where this module does not know it; a named
    type (enum, record) is added to ``named`` for later references."""
    if isinstance(schema, list):
        branches = [_compile(branch, named) for branch in schema]
        return None if any(b is None for b in branches) else _union(branches)  # type: ignore[arg-type]
    name = schema.get("type") if isinstance(schema, dict) else schema
    check: Check | None = None
    if isinstance(schema, dict) and name == "enum":
        check = _enum(frozenset(schema["symbols"]))
    elif isinstance(schema, dict) and name in ("map", "array"):
        inner = _compile(schema["values" if name == "map" else "items"], named)
        check = None if inner is None else (_map if name == "map" else _array)(inner)
    elif isinstance(schema, dict) and name == "record":
        check = _record(schema, named)
    elif isinstance(schema, dict) and schema.get("logicalType") not in (None, "timestamp-millis"):
        return None  # other logical types convert their datum first
    else:
        check = {"string": _is_str, "null": _is_null, "boolean": _is_bool, "double": _is_double,
                 "float": _is_double, "int": _int_in(INT_MIN_VALUE, INT_MAX_VALUE),
                 "long": _int_in(LONG_MIN_VALUE, LONG_MAX_VALUE)}.get(name) or named.get(name)
    if check is not None and isinstance(schema, dict) and "name" in schema:
        named[schema["name"]] = check
    return check


def _record(schema: dict[str, Any], named: dict[str, Check]) -> Check | None:
    """A dict holding every field of the record, each passing its check (fastavro takes a
    missing field's default; this check takes none)."""
    fields = [(field["name"], _compile(field["type"], named)) for field in schema["fields"]]
    if any(check is None for _, check in fields):
        return None
    checks: list[tuple[str, Check]] = fields  # type: ignore[assignment]

    def passes(record: Any) -> bool:
        if type(record) is not dict:
            return False
        try:
            for name, check in checks:
                if not check(record[name]):
                    return False
        except KeyError:
            return False
        return True
    return passes


def quick_check(schema: dict[str, Any]) -> Callable[[dict[str, Any]], bool] | None:
    """For a parsed record schema: a check of a record holding exactly the schema's fields
    (``Codec._project``'s output) that passes only records ``validate(strict=True)`` passes;
    ``None`` if a field's type is none of those above."""
    return _record(schema, {})


def nesting(schema: dict[str, Any]) -> int:
    """How deep a record of this schema nests as JSON (objects and arrays, the record itself
    1), counting named types where they are defined; a reference to one counts as flat — the
    contracts refer only to enums."""
    def depth(node: Any) -> int:
        if isinstance(node, list):
            return max(map(depth, node), default=0)
        kind = node.get("type") if isinstance(node, dict) else None
        if kind == "record":
            return 1 + max((depth(f["type"]) for f in node["fields"]), default=0)
        if kind in ("map", "array"):
            return 1 + depth(node["values" if kind == "map" else "items"])
        return 0
    return depth(schema)
