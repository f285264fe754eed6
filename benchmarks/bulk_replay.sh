#!/usr/bin/env bash
# Bulk replay throughput, end to end on a fresh real Kafka broker:
#
#   benchmarks/bulk_replay.sh DATASET_DIR MODEL_DIR [backlog|live]
#
# backlog (default): publish the whole dataset (seeded shuffle: entities first, then every
#   triple) and its seed labels, timing the producer; then run the service on that backlog until
#   the input is quiet and time it (less the idle wait).
# live: start the service first, wait until it is ready, then publish; the time runs from the
#   first record published until the service is idle again (producer and service share the
#   machine).
# The service's settings come from the usual STREAM_ALIGN_* variables (e.g.
# STREAM_ALIGN_RUNNER__BATCH_MAX_RECORDS). Prints triples/s, the service's peak RSS and the
# summary. Everything lives under $STREAM_ALIGN_HOME/bulk; the broker is stopped at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATASET="$(cd "$1" && pwd)"
MODEL="$(cd "$2" && pwd)"
MODE="${3:-backlog}"
HOME_DIR="${STREAM_ALIGN_HOME:-$HOME/.cache/stream-align}"
PORT="${STREAM_ALIGN_BULK_PORT:-39292}"
WORK="$HOME_DIR/bulk"
IDLE=10
[ "$MODE" = live ] && IDLE=30  # outlasts the producer's start (it loads the dataset first)

# shellcheck source=tools/fresh_broker.sh
source "$ROOT/tools/fresh_broker.sh"
REPLAY=("$SA" replay --dataset "$DATASET" --order shuffle --seed 7 --no-progress)
SERVICE=(/usr/bin/time -v "$SA" run --model "$MODEL" --until-idle "$IDLE")

"$SA" topics
if [ "$MODE" = live ]; then
  "${SERVICE[@]}" > "$WORK/run.log" 2>&1 &
  pid=$!
  until grep -qs "service started" "$WORK/run.log"; do sleep 0.5; done
  start=$(date +%s.%N)
  "${REPLAY[@]}" > "$WORK/replay.log"
  echo "published in $(echo "$(date +%s.%N) - $start" | bc) s"
  wait "$pid"
else
  start=$(date +%s.%N)
  "${REPLAY[@]}" > "$WORK/replay.log"
  echo "published in $(echo "$(date +%s.%N) - $start" | bc) s"
  start=$(date +%s.%N)
  "${SERVICE[@]}" > "$WORK/run.log" 2>&1
fi
took=$(echo "$(date +%s.%N) - $start - $IDLE" | bc)
triples=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["expected_triples"])' \
  < "$WORK/replay.log")
echo "$MODE: processed in $took s (plus $IDLE s idle wait), $(echo "$triples / $took" | bc) triples/s"
grep -E "Maximum resident set size" "$WORK/run.log" | sed 's/^\s*/service /'
"$SA" summary --dataset "$DATASET"
