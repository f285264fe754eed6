# Sourced by tools/quickstart.sh and benchmarks/*.sh: the environment, and a fresh real Kafka
# broker under $WORK that stops when the calling script exits. Needs ROOT, WORK and PORT; sets
# SA (the stream-align command) and points the service's settings at the broker and $WORK/state.
VENV="$("$ROOT/tools/bootstrap.sh")"
SA="$VENV/bin/stream-align"
BROKER=(python3 "$ROOT/tools/kafka_broker.py")
"${BROKER[@]}" stop --data-dir "$WORK/kafka" >/dev/null
rm -rf "$WORK" && mkdir -p "$WORK"
"${BROKER[@]}" start --port "$PORT" --data-dir "$WORK/kafka"
trap '"${BROKER[@]}" stop --data-dir "$WORK/kafka"' EXIT

export STREAM_ALIGN_KAFKA__BOOTSTRAP_SERVERS="127.0.0.1:$PORT"
export STREAM_ALIGN_STORE__PATH="$WORK/state"
export STREAM_ALIGN_OBSERVABILITY__HTTP_PORT=0
