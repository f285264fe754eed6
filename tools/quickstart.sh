#!/usr/bin/env bash
# The main job, end to end on this machine: set up the environment, start a real Kafka broker,
# create the topics, replay a benchmark dataset as triple-change events, and consume them back
# (bad records go to the dead-letter topic), printing what was seen.
#
#   tools/quickstart.sh [DATASET_DIR]     (default: ../shared/datasets/dbp15k/zh_en)
#
# The broker keeps running afterwards on 127.0.0.1:$PORT; stop it with
#   python3 tools/kafka_broker.py stop --data-dir "$STREAM_ALIGN_HOME/quickstart/kafka"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATASET="${1:-$ROOT/../shared/datasets/dbp15k/zh_en}"
HOME_DIR="${STREAM_ALIGN_HOME:-$HOME/.cache/stream-align}"
PORT="${STREAM_ALIGN_QUICKSTART_PORT:-39092}"
WORK="$HOME_DIR/quickstart"

VENV="$("$ROOT/tools/bootstrap.sh")"
python3 "$ROOT/tools/kafka_broker.py" start --port "$PORT" --data-dir "$WORK/kafka"
export STREAM_ALIGN_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:$PORT"
# A fresh consumer group per run, so the summary counts this run's records.
export STREAM_ALIGN_KAFKA__CONSUMER_GROUP="quickstart-$(date +%s)"
SA="$VENV/bin/stream-align"

"$SA" topics
"$SA" replay --dataset "$DATASET" --order shuffle --seed 7
"$SA" consume --until-idle 10
