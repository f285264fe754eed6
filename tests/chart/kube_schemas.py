"""The Kubernetes JSON schemas, offline, in the layout kubeconform reads.

kubeconform fetches its schemas from GitHub at run time, which CI cannot reach. The
``kubernetes-validate`` package (PyPI, a dev dependency) ships the same schemas, generated from
each Kubernetes release's OpenAPI document, for v1.25–v1.37; its files point into one shared
``_definitions.json`` by an absolute URI kubeconform cannot resolve, so each kind needed here is
written out standalone with the definitions it reaches.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate

SOURCE = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
_SHARED = '"/api/_definitions.json#'
_REF = re.compile(r'"#/\$defs/([^"]+)"')


def schema_file(kind: str, api_version: str) -> str:
    """kubeconform's name for a kind's schema: ``statefulset-apps-v1.json``, ``service-v1.json``."""
    group, _, version = api_version.rpartition("/")
    suffix = f"-{group.split('.')[0]}-{version}" if group else f"-{version}"
    return f"{kind.lower()}{suffix}.json"


def _reachable(defs: dict[str, Any], root: Any) -> dict[str, Any]:
    keep: dict[str, Any] = {}
    todo = [root]
    while todo:
        for name in _REF.findall(json.dumps(todo.pop())):
            if name not in keep:
                keep[name] = defs[name]
                todo.append(defs[name])
    return keep


def write_standalone(version: str, files: set[str], out: Path) -> Path:
    """Write ``files`` of Kubernetes ``version`` (``1.33.0``) into ``out``, self-contained."""
    source = SOURCE / f"v{version}-local-strict"
    defs = json.loads((source / "_definitions.json").read_text().replace(_SHARED, '"#'))["$defs"]
    out.mkdir(parents=True, exist_ok=True)
    for name in files:
        schema = json.loads((source / name).read_text().replace(_SHARED, '"#'))
        schema["$defs"] = _reachable(defs, schema)
        (out / name).write_text(json.dumps(schema))
    return out
