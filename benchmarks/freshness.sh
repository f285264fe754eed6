#!/usr/bin/env bash
# Freshness at a steady input rate after a bulk load, end to end on a fresh real Kafka broker:
#
#   benchmarks/freshness.sh DATASET_DIR MODEL_DIR LOAD_EVENTS RATE TAIL_EVENTS
#
# 1. publish the first LOAD_EVENTS triple changes of the seeded shuffle (entities first) and the
#    seed labels, and run the service until the input is quiet (the bulk load);
# 2. start the service again, wait until it has restored its state, then publish the next
#    TAIL_EVENTS at RATE events/s while it runs, until the input is quiet;
# 3. print the summary; its freshness percentiles cover the tail only (triple produced →
#    alignment event produced, Kafka timestamps), and the service's peak RSS.
#
# Everything lives under $STREAM_ALIGN_HOME/freshness; the broker is stopped at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATASET="$(cd "$1" && pwd)"
MODEL="$(cd "$2" && pwd)"
LOAD="$3" RATE="$4" TAIL="$5"
HOME_DIR="${STREAM_ALIGN_HOME:-$HOME/.cache/stream-align}"
PORT="${STREAM_ALIGN_FRESHNESS_PORT:-39192}"
WORK="$HOME_DIR/freshness"

# shellcheck source=tools/fresh_broker.sh
source "$ROOT/tools/fresh_broker.sh"
REPLAY=("$SA" replay --dataset "$DATASET" --order shuffle --seed 7 --no-progress)

"$SA" topics
echo "== bulk load: $LOAD events"
"${REPLAY[@]}" --limit "$LOAD"
start=$(date +%s)
"$SA" run --model "$MODEL" --until-idle 10 > "$WORK/load.log" 2>&1
echo "load processed in $(( $(date +%s) - start - 10 )) s (plus 10 s idle wait)"

echo "== tail: $TAIL events at $RATE events/s"
# 60 s of quiet ends the run: longer than the replay takes to start publishing on a busy machine.
/usr/bin/time -v "$SA" run --model "$MODEL" --until-idle 60 > "$WORK/tail.log" 2>&1 &
SERVICE=$!
until grep -qs "service started" "$WORK/tail.log"; do sleep 0.5; done
since=$(date +%s%3N)
"${REPLAY[@]}" --skip "$LOAD" --limit "$TAIL" --rate "$RATE" --no-labels
wait "$SERVICE"
grep -E "Maximum resident set size" "$WORK/tail.log" | sed 's/^\s*/service /'
"$SA" summary --dataset "$DATASET" --since-ms "$since"
