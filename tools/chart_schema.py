"""Keep the Helm chart's ``values.schema.json`` ``config`` in step with the service's settings.

``config`` is rendered into the service's TOML file, so it is checked at ``helm install`` against
the settings themselves (generated from the pydantic models, not restated by hand): a typo'd
setting, a wrong type or a bad enum fails the install instead of crash-looping the pod.
Secrets (``SecretStr`` settings) are left out, so a password put in ``config`` — which would
land in a ConfigMap — is refused: they belong in ``existingSecret``. ``required`` is dropped:
every setting has a default or is set by the chart (``store.path``).

    python tools/chart_schema.py           # rewrite the schema's config part
    python tools/chart_schema.py --check   # exit 1 if it is out of date (tests/chart runs this)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "helm" / "stream-align" / "values.schema.json"
PREFIX = "settings."
"""The generated definitions' names in ``$defs`` (the hand-written ones have none)."""


def _is_secret(prop: dict[str, Any]) -> bool:
    return bool(prop.get("writeOnly")) or any(_is_secret(p) for p in prop.get("anyOf", ()))


def _clean(node: Any) -> Any:
    """Drop titles, ``required`` and secret properties, everywhere."""
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _clean(v) for k, v in node.items() if k not in ("title", "required")}
    if isinstance(node.get("properties"), dict):
        out["properties"] = {name: _clean(prop) for name, prop in node["properties"].items()
                             if not _is_secret(prop)}
    return out


def settings_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """(the schema of ``config``, its definitions) from the service's settings."""
    sys.path.insert(0, str(ROOT))
    from stream_align.cli.config import AppSettings

    text = json.dumps(AppSettings.model_json_schema())
    schema = json.loads(text.replace('"#/$defs/', f'"#/$defs/{PREFIX}'))
    defs = {PREFIX + name: _clean(body) for name, body in schema.pop("$defs", {}).items()}
    config = _clean(schema)
    config["description"] = ("Rendered into the service's TOML config file; every setting: "
                             "`stream-align config`. Secrets go in existingSecret.")
    return config, defs


def updated(current: dict[str, Any]) -> dict[str, Any]:
    """``current`` with its config schema and generated definitions regenerated."""
    config, defs = settings_schema()
    result = json.loads(json.dumps(current))
    result["properties"]["config"] = config
    kept = {k: v for k, v in result.get("$defs", {}).items() if not k.startswith(PREFIX)}
    result["$defs"] = {**kept, **dict(sorted(defs.items()))}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report whether it is current")
    args = parser.parse_args(argv)
    current = json.loads(SCHEMA.read_text())
    fresh = updated(current)
    if args.check:
        if fresh != current:
            print(f"{SCHEMA.relative_to(ROOT)} is out of date with the settings: "
                  "run python tools/chart_schema.py", file=sys.stderr)
            return 1
        return 0
    SCHEMA.write_text(json.dumps(fresh, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
