#!/usr/bin/env bash
# The test command: installs what it needs (tools/bootstrap.sh), then runs lint and the whole
# suite. tests/conftest.py starts a real Kafka broker on 127.0.0.1 for the integration tests and
# stops it afterwards. Extra arguments go to pytest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$("$ROOT/tools/bootstrap.sh")"
cd "$ROOT"
"$VENV/bin/ruff" check stream_align tests tools benchmarks
"$VENV/bin/hadolint" Dockerfile
"$ROOT/tools/helm_lint.sh"
"$VENV/bin/python" -m pytest -p no:cacheprovider -ra --durations=15 "$@"
