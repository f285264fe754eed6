#!/usr/bin/env bash
# Set up everything stream-align needs, outside the clone, and reuse it on the next run:
#   $STREAM_ALIGN_HOME/venv          the Python environment (torch is large: built once, cached)
#   $STREAM_ALIGN_HOME/kafka-<v>/    the Apache Kafka broker jars from Maven Central
# Re-running is cheap: packages already installed are kept. Prints the venv path last.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HOME_DIR="${STREAM_ALIGN_HOME:-$HOME/.cache/stream-align}"
VENV="$HOME_DIR/venv"
mkdir -p "$HOME_DIR"

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ ! -x "$VENV/bin/uv" ]; then
  "$VENV/bin/python" -m pip install -q uv
fi
# uv resolves and installs from PyPI with a shared cache; an unchanged environment takes seconds.
"$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -e "$ROOT[dev]" >&2
python3 "$ROOT/tools/kafka_broker.py" fetch >&2
echo "$VENV"
