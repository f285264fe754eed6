#!/usr/bin/env bash
# Bulk replay throughput, end to end on a fresh real Kafka broker:
#
#   benchmarks/bulk_replay.sh DATASET_DIR MODEL_DIR
#
# 1. publish the whole dataset (seeded shuffle: entities first, then every triple) and its seed
#    labels, and time the producer;
# 2. run the service on that backlog until the input is quiet (its settings from the usual
#    STREAM_ALIGN_* variables, e.g. STREAM_ALIGN_RUNNER__BATCH_MAX_RECORDS; under a backlog every
#    micro-batch is full);
# 3. print the service's processing time (less the idle wait), triples/s, peak RSS and summary.
#
# Everything lives under $STREAM_ALIGN_HOME/bulk; the broker is stopped at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATASET="$(cd "$1" && pwd)"
MODEL="$(cd "$2" && pwd)"
HOME_DIR="${STREAM_ALIGN_HOME:-$HOME/.cache/stream-align}"
PORT="${STREAM_ALIGN_BULK_PORT:-39292}"
WORK="$HOME_DIR/bulk"
IDLE=10

# shellcheck source=tools/fresh_broker.sh
source "$ROOT/tools/fresh_broker.sh"

"$SA" topics
start=$(date +%s.%N)
"$SA" replay --dataset "$DATASET" --order shuffle --seed 7 --no-progress | tee "$WORK/replay.log"
echo "published in $(echo "$(date +%s.%N) - $start" | bc) s"
start=$(date +%s.%N)
/usr/bin/time -v "$SA" run --model "$MODEL" --until-idle "$IDLE" > "$WORK/run.log" 2>&1
took=$(echo "$(date +%s.%N) - $start - $IDLE" | bc)
triples=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["expected_triples"])' \
  < "$WORK/replay.log")
echo "service: backlog processed in $took s (plus $IDLE s idle wait), $(echo "$triples / $took" | bc) triples/s"
grep -E "Maximum resident set size" "$WORK/run.log" | sed 's/^\s*/service /'
"$SA" summary --dataset "$DATASET"
