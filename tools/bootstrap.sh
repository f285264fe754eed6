#!/usr/bin/env bash
# Set up everything stream-align needs, outside the clone, and reuse it on the next run:
#   $STREAM_ALIGN_HOME/venv          the Python environment: exactly requirements-dev.lock
#   $STREAM_ALIGN_HOME/kafka-<v>/    the Apache Kafka broker jars from Maven Central
# Re-running is cheap: an unchanged environment takes seconds. Prints the venv path last
# (`--uv-only`: only make sure uv is there and print its path; tools/lock.sh uses it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${STREAM_ALIGN_HOME:-$HOME/.cache/stream-align}"
VENV="$HOME_DIR/venv"
UV_VERSION="0.13.9"
mkdir -p "$HOME_DIR"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ ! -x "$VENV/bin/uv" ]; then
  "$VENV/bin/python" -m pip install -q "uv==$UV_VERSION"
fi
if [ "${1:-}" = "--uv-only" ]; then
  echo "$VENV/bin/uv"
  exit 0
fi
# The pinned, hash-checked set (tools/lock.sh writes it from pyproject.toml); sync also removes
# what is not in it, so every machine runs the same versions. Then the project itself, editable,
# its dependencies held to the same pins.
"$VENV/bin/uv" pip sync -q --python "$VENV/bin/python" "$ROOT/requirements-dev.lock" >&2
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -e "$ROOT[dev,otlp]" \
  --constraint "$ROOT/requirements-dev.lock" >&2
# Bytecode for every installed module, as pip writes it into the image (Dockerfile); uv writes
# none, and with PYTHONDONTWRITEBYTECODE none is ever cached, so each process compiled torch,
# scipy and scikit-learn from source at start: 9.8 -> 4.1 s of CPU to import the service
# (decision 0059). Up-to-date files are skipped, so a re-run only reads their timestamps.
SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
"$VENV/bin/python" -m compileall -q -j 0 "$SITE" >/dev/null 2>&1 || true
python3 "$ROOT/tools/kafka_broker.py" fetch >&2
echo "$VENV"
