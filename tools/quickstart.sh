#!/usr/bin/env bash
# The main job, end to end on this machine: set up the environment, start a fresh real Kafka
# broker, train a model (once per dataset, cached), replay the dataset as triple-change events,
# run the streaming service until the input is quiet, and print a summary (alignments found,
# precision/recall against the gold pairs, freshness).
#
#   tools/quickstart.sh [DATASET_DIR]   (default: ../shared/datasets/er_benchmarks/amazon_google,
#                                        a few minutes; larger graphs take much longer)
#
# Everything lives under $STREAM_ALIGN_HOME/quickstart; the broker is stopped at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATASET="$(cd "${1:-$ROOT/../shared/datasets/er_benchmarks/amazon_google}" && pwd)"
HOME_DIR="${STREAM_ALIGN_HOME:-$HOME/.cache/stream-align}"
PORT="${STREAM_ALIGN_QUICKSTART_PORT:-39092}"
WORK="$HOME_DIR/quickstart"
NAME="$(basename "$(dirname "$DATASET")")-$(basename "$DATASET")"
MODEL="$HOME_DIR/models/$NAME"

# shellcheck source=tools/fresh_broker.sh
source "$ROOT/tools/fresh_broker.sh"
export STREAM_ALIGN_OBSERVABILITY__LOG_FORMAT=console

if [ ! -f "$MODEL/config.json" ]; then
  echo "== training a model on $NAME (cached in $MODEL)"
  "$SA" train --dataset "$DATASET" --out "$MODEL"
fi
echo "== replaying $NAME into Kafka"
"$SA" topics
"$SA" replay --dataset "$DATASET" --order shuffle --seed 7
echo "== running the service until the input is quiet"
"$SA" run --model "$MODEL" --until-idle 10
echo "== summary"
"$SA" summary --dataset "$DATASET"
