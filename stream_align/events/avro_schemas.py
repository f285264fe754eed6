"""The Avro schemas of ``schemas/``, read from the installed package.

Contract: ``stream_align/events/schemas`` is a symlink to the repository's ``schemas/`` folder, and
package-data ships its ``*.avsc`` files, so the same files are found in a checkout, an editable
install and a wheel. Each file is named after the record (``TripleChange.avsc``) and read and
parsed once per process.
"""

import json
from functools import cache
from importlib.resources import files
from typing import Any

import fastavro


@cache
def schema_text(avro_name: str) -> str:
    """Text of the schema of the record ``avro_name`` (e.g. ``io.streamalign.v1.Label``)."""
    file_name = avro_name.rsplit(".", 1)[-1] + ".avsc"
    return (files("stream_align.events") / "schemas" / file_name).read_text(encoding="utf-8")


@cache
def parsed_schema(avro_name: str) -> dict[str, Any]:
    """The schema parsed by fastavro, shared: callers must not modify it."""
    return fastavro.parse_schema(json.loads(schema_text(avro_name)))
