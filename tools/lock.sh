#!/usr/bin/env bash
# Re-resolve the pinned, hashed dependency sets from pyproject.toml (run after changing it):
#   requirements.lock      the service with the OTLP exporter: what the Docker image installs
#   requirements-dev.lock  the same plus the dev tools: what tools/bootstrap.sh (and CI) install
# Both target CPython 3.11 on x86_64 Linux (glibc 2.28+), the image's and CI's platform.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV="${UV:-$("$ROOT/tools/bootstrap.sh" --uv-only)}"
cd "$ROOT"
common=(--quiet --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
        --no-header --annotation-style line)
"$UV" pip compile pyproject.toml --extra otlp "${common[@]}" -o requirements.lock
"$UV" pip compile pyproject.toml --extra otlp --extra dev "${common[@]}" -o requirements-dev.lock
