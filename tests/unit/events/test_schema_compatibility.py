"""Every schema in ``schemas/`` stays FULL_TRANSITIVE compatible with every released version.

The rules are in ``schemas/COMPATIBILITY.md``. For each released copy (``schemas/released/vN``)
and each of its schemas, data written with the released schema must be readable with the
current one (BACKWARD: a new service reads old records) and data written with the current schema
readable with the released one (FORWARD: deployed consumers read new records) — checked with
fastavro schema resolution on generated records, plus the enum rule generated records can miss.
The last test shows the check fails on the changes the rules forbid.
"""

from __future__ import annotations

import copy
import io
import json
import random
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.utils import generate_many

from stream_align.events.symbols import enum_defaults

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
RELEASED = sorted(p for p in (SCHEMAS / "released").iterdir() if p.is_dir())
RECORDS = 200
"""Generated records per direction: enough to draw every enum symbol and union branch."""


def _released_files() -> list[Path]:
    return [f for version in RELEASED for f in sorted(version.glob("*.avsc"))]


def _parse(raw: dict[str, Any]) -> Any:
    return fastavro.parse_schema(copy.deepcopy(raw))


def incompatibilities(writer_raw: dict[str, Any], reader_raw: dict[str, Any]) -> list[str]:
    """Why data of ``writer_raw`` cannot be read with ``reader_raw`` (empty: it can)."""
    writer, reader = _parse(writer_raw), _parse(reader_raw)
    problems = []
    reader_enums = enum_defaults(reader)
    for name, (symbols, _) in enum_defaults(writer).items():
        known, default = reader_enums.get(name, (frozenset(), None))
        if name in reader_enums and not symbols <= known and default is None:
            problems.append(f"{name}: new symbols {sorted(symbols - known)} and no default")
    random.seed(0)
    for record in generate_many(writer, RECORDS):
        body = io.BytesIO()
        fastavro.schemaless_writer(body, writer, record)
        body.seek(0)
        try:
            fastavro.schemaless_reader(body, writer, reader)
        except Exception as exc:  # any failure to resolve is the finding
            problems.append(f"{type(exc).__name__}: {exc}"[:200])
            break
    return problems


def removed_symbols(old_raw: dict[str, Any], new_raw: dict[str, Any]) -> list[str]:
    """Symbols of ``old_raw`` that ``new_raw`` lost: Avro reads them as the default, but what
    old records said would be lost, so the rules forbid it."""
    new = enum_defaults(_parse(new_raw))
    return [f"{name}: {sorted(symbols - new[name][0])} removed"
            for name, (symbols, _) in enum_defaults(_parse(old_raw)).items()
            if name in new and not symbols <= new[name][0]]


def rule_violations(raw: dict[str, Any]) -> list[str]:
    """Rules one schema must follow on its own: every enum has a default (so a later symbol
    reads as it in deployed readers)."""
    return [f"{name}: no default" for name, (_, default) in enum_defaults(_parse(raw)).items()
            if default is None]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.avsc")), ids=lambda p: p.stem)
def test_current_schema_follows_the_rules(path: Path) -> None:
    assert rule_violations(_load(path)) == []


def test_there_is_a_released_baseline_of_every_contract() -> None:
    assert RELEASED, "schemas/released/ holds no version"
    current = {p.name for p in SCHEMAS.glob("*.avsc")}
    assert {p.name for p in RELEASED[-1].glob("*.avsc")} == current


@pytest.mark.parametrize("released", _released_files(),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_current_schema_is_compatible_both_ways(released: Path) -> None:
    current = SCHEMAS / released.name
    assert current.is_file(), f"{released.name} was released and must not be removed"
    old, new = _load(released), _load(current)
    assert incompatibilities(old, new) == [], "BACKWARD: the new reader cannot read old data"
    assert incompatibilities(new, old) == [], "FORWARD: deployed readers cannot read new data"
    assert removed_symbols(old, new) == []


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def _added_field_without_default(s: dict[str, Any]) -> None:
    s["fields"].append({"name": "region", "type": "string"})


def _removed_field_without_default(s: dict[str, Any]) -> None:
    s["fields"] = [f for f in s["fields"] if f["name"] != "head"]


def _changed_type(s: dict[str, Any]) -> None:
    _field(s, "head")["type"] = "long"


def _dropped_enum_default(s: dict[str, Any]) -> None:
    del _field(s, "op")["type"]["default"]


def _removed_symbol(s: dict[str, Any]) -> None:
    op = _field(s, "op")["type"]
    op["symbols"].remove("UPSERT_ENTITY")


def _new_union_branch(s: dict[str, Any]) -> None:
    _field(s, "tail")["type"] = ["null", "string", "long"]


@pytest.mark.parametrize("breaking", [
    _added_field_without_default, _removed_field_without_default, _changed_type,
    _dropped_enum_default, _removed_symbol, _new_union_branch])
def test_the_check_catches_what_the_rules_forbid(breaking: Any) -> None:
    released = _load(RELEASED[-1] / "TripleChange.avsc")
    changed = copy.deepcopy(released)
    breaking(changed)
    assert (incompatibilities(released, changed) or incompatibilities(changed, released)
            or rule_violations(changed) or removed_symbols(released, changed))


def test_a_new_symbol_breaks_readers_without_a_default() -> None:
    """Why every enum has a default: the same added symbol, read by a reader without one."""
    old = _load(RELEASED[-1] / "TripleChange.avsc")
    _dropped_enum_default(old)
    new = copy.deepcopy(old)
    _field(new, "op")["type"]["symbols"].append("MERGE_ENTITIES")
    assert incompatibilities(new, old)


def test_the_check_allows_what_the_rules_allow() -> None:
    released = _load(RELEASED[-1] / "TripleChange.avsc")
    changed = copy.deepcopy(released)
    changed["fields"].append({"name": "region", "type": ["null", "string"], "default": None,
                              "doc": "an added optional field"})
    _field(changed, "op")["type"]["symbols"].insert(-1, "MERGE_ENTITIES")
    assert incompatibilities(released, changed) == []
    assert incompatibilities(changed, released) == []
