"""The .avsc files are the contract: they parse, document every field, ship in the package, and
describe exactly the fields of the typed models."""

import json
import os
from pathlib import Path

import pytest

from stream_align.events import CONTRACTS, Event, Evidence
from stream_align.events.avro_schemas import parsed_schema, schema_text

ROOT = Path(__file__).resolve().parents[3]


def _fields(schema: dict) -> list[dict]:
    return schema["fields"]


def _named_records(schema: object) -> list[dict]:
    """Every record schema in ``schema`` (top level and nested)."""
    if isinstance(schema, list):
        return [r for branch in schema for r in _named_records(branch)]
    if not isinstance(schema, dict):
        return []
    found = [schema] if schema.get("type") == "record" else []
    for field in schema.get("fields", []):
        found += _named_records(field["type"])
    for key in ("items", "values"):
        found += _named_records(schema.get(key))
    return found


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__)
def test_schema_file_is_documented_and_namespaced(contract: type[Event]) -> None:
    raw = json.loads((ROOT / "schemas" / f"{contract.__name__}.avsc").read_text())
    assert raw["namespace"] == "io.streamalign.v1"
    assert f"{raw['namespace']}.{raw['name']}" == contract.avro_name
    for record in _named_records(raw):
        assert record.get("doc"), record["name"]
        for field in record["fields"]:
            assert field.get("doc"), f"{record['name']}.{field['name']} has no doc"


@pytest.mark.parametrize("contract", CONTRACTS, ids=lambda c: c.__name__)
def test_schema_fields_match_model_fields(contract: type[Event]) -> None:
    schema = parsed_schema(contract.avro_name)
    assert [f["name"] for f in _fields(schema)] == list(contract.model_fields)
    event_time = next(f for f in _fields(schema) if f["name"] == "event_time")
    assert event_time["type"] == {"type": "long", "logicalType": "timestamp-millis"}


def test_evidence_record_matches_its_model() -> None:
    schema = parsed_schema("io.streamalign.v1.AlignmentEvent")
    evidence = next(f for f in _fields(schema) if f["name"] == "evidence")
    assert [f["name"] for f in evidence["type"]["items"]["fields"]] == list(Evidence.model_fields)


def test_schemas_ship_inside_the_package_through_a_relative_symlink() -> None:
    link = ROOT / "stream_align" / "events" / "schemas"
    assert link.is_symlink()
    assert os.readlink(link) == "../../schemas"
    for contract in CONTRACTS:
        file_text = (ROOT / "schemas" / f"{contract.__name__}.avsc").read_text(encoding="utf-8")
        assert schema_text(contract.avro_name) == file_text
