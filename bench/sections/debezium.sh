#!/usr/bin/env bash
# Debezium section of `make bench` (see bench/run): the Kafka Connect alternative of
# deploy/kafka-connect/ (Debezium's PostgreSQL connector + outbox EventRouter, exactly-once
# source support), measured the way the relay section measures lottery-cdc-relay, against the same
# PostgreSQL and Kafka, in a database of its own:
#   debezium_events_per_s        the relay section's backlog (RELAY_BENCH_EVENTS, default 200000
#                                events, 100 per transaction, 300-byte payloads) from the worker's
#                                start (JVM, group join, connector and task start included, as the
#                                relay is timed from its process start) to every record readable
#                                by a read_committed consumer
#   debezium_startup_s           of that: worker start -> connector and task RUNNING
#   debezium_rss_mb              the worker JVM's peak RSS over the backlog (VmHWM)
#   debezium_latency_*           outbox INSERT -> readable by a read_committed consumer, one row per
#                                transaction at RELAY_BENCH_RATE (default 1000/s) for
#                                RELAY_BENCH_SECONDS (default 10), with the connector running: the
#                                same `lottery-relay-bench latency` run as relay_latency_*
# Fails (non-zero, with the worker log's tail) when the connector fails or a count is wrong.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
OUT=${OUT:?}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
EVENTS=${RELAY_BENCH_EVENTS:-200000}
RATE=${RELAY_BENCH_RATE:-1000}
SECONDS_STEADY=${RELAY_BENCH_SECONDS:-10}
# Extra connector settings, "k=v k2=v2", over the shipped file's (for experiments; the notes name them).
read -r -a EXTRA <<<"${DEBEZIUM_BENCH_SET:-}"
# Longest wait for the backlog to drain before the section gives up.
DRAIN_TIMEOUT_S=${DEBEZIUM_BENCH_DRAIN_TIMEOUT_S:-900}
: "${LOTTERY_PG_DSN:?}" "${LOTTERY_KAFKA_BOOTSTRAP:?}"
tag=dbz_$$_$RANDOM
db=$tag
topic=$tag
ltopic=${tag}_lat
connector=$tag
work=$(mktemp -d)
dsn="$LOTTERY_PG_DSN dbname=$db"  # libpq: the last dbname wins
CONNECT=$ROOT/scripts/connect-worker
export LOTTERY_CONNECT_PREFIX=${tag}_connect

say() { echo "debezium bench: $*" >&2; }
# fail MESSAGE: the reason, the connector's state and the worker log's tail, then exit 1.
fail() {
  say "$*"
  if [ -f "$work/worker/rest-url" ]; then
    "$CONNECT" status "$work/worker" "$connector" >&2 || true
  fi
  [ -f "$work/worker/worker.log" ] && tail -40 "$work/worker/worker.log" >&2
  exit 1
}
cleanup() {
  "$CONNECT" stop "$work/worker" 2>/dev/null || true
  local topics=("$topic" "$ltopic" "__debezium-heartbeat.$tag")
  [ -f "$work/worker/internal-topics" ] && mapfile -t -O 3 topics <"$work/worker/internal-topics"
  local args=() t
  for t in "${topics[@]}"; do args+=(--topic "$t"); done
  "$BIN/lottery-relay-bench" delete-topics "${args[@]}" >/dev/null 2>&1 || true
  # The walsender of a just-stopped worker can hold the slot for a moment.
  local i
  for ((i = 0; i < 20; i++)); do
    psql "$dsn" -qAtc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                       WHERE database = current_database()" >/dev/null 2>&1 && break
    sleep 0.5
  done
  psql "$LOTTERY_PG_DSN" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# committed TOPIC: the number of records a read_committed consumer sees on TOPIC (0 before the
# topic exists).
committed() {
  local n
  n=$("$BIN/lottery-relay-bench" count --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" --topic "$1" 2>/dev/null | head -1) || true
  echo "${n:-0}"
}

"$CONNECT" fetch
read -r connect_version debezium_version < <("$CONNECT" versions)
psql "$LOTTERY_PG_DSN" -qc "CREATE DATABASE $db"
migrate_with_roles "$dsn"
# The connector connects as lottery_relay (REPLICATION, SELECT on outbox), like the relay. Its
# address as the server sees it, so a URI or a service name in LOTTERY_PG_DSN works too.
read -r pg_host pg_port < <(psql "$dsn" -qAtF ' ' -c "SELECT host(inet_server_addr()), inet_server_port()")
[ -n "$pg_host" ] || fail "LOTTERY_PG_DSN connects through a Unix socket; the connector needs TCP"
export LOTTERY_CONNECT_PG_HOST=$pg_host LOTTERY_CONNECT_PG_PORT=$pg_port \
  LOTTERY_CONNECT_PG_USER=lottery_relay LOTTERY_CONNECT_PG_PASSWORD=$BENCH_ROLE_PASSWORD \
  LOTTERY_CONNECT_PG_DBNAME=$db
# The slot exists before the backlog is written, so the connector streams all of it from the WAL
# (snapshot.mode=no_data), as the relay section's relay does.
psql "$dsn" -qAtc "SELECT pg_create_logical_replication_slot('$tag', 'pgoutput')" >/dev/null
say "filling $EVENTS outbox events"
"$BIN/lottery-relay-bench" fill --pg-dsn "$dsn" --topic "$topic" --events "$EVENTS" \
  --per-txn 100 --payload-bytes 300

say "Kafka Connect worker + Debezium connector over the backlog"
t0=$(date +%s.%N)
"$CONNECT" start "$work/worker" || fail "the worker did not start"
worker_pid=$(cat "$work/worker/worker.pid")
"$CONNECT" deploy "$work/worker" "$ROOT/deploy/kafka-connect/outbox-connector.json" \
  name="$connector" slot.name="$tag" topic.prefix="$tag" ${EXTRA[@]+"${EXTRA[@]}"} || fail "the connector did not start"
t_running=$(date +%s.%N)
got=0
while :; do
  "$CONNECT" status "$work/worker" "$connector" >"$work/state" || fail "connector: $(head -1 "$work/state")"
  got=$(committed "$topic")
  [ "$got" -ge "$EVENTS" ] && break
  python3 -c "import sys; sys.exit(0 if $(date +%s.%N) - $t0 < $DRAIN_TIMEOUT_S else 1)" \
    || fail "only $got of $EVENTS events committed after ${DRAIN_TIMEOUT_S}s"
  sleep 0.2
done
# The count that first saw every record ended here: the last commit was at or before this.
t1=$(date +%s.%N)
rss_mb=$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$worker_pid/status")
[ "$got" = "$EVENTS" ] || fail "Kafka holds $got committed events on $topic, expected $EVENTS"
rate=$(python3 -c "print(round($EVENTS / ($t1 - $t0)))")
startup_s=$(python3 -c "print(round($t_running - $t0, 2))")
say "debezium $rate/s (startup ${startup_s}s), rss $rss_mb MB"

say "latency at $RATE rows/s for ${SECONDS_STEADY}s"
lat=$("$BIN/lottery-relay-bench" latency --pg-dsn "$dsn" --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" \
  --topic "$ltopic" --rate "$RATE" --seconds "$SECONDS_STEADY") || fail "latency run: $lat"
say "$lat"
"$CONNECT" status "$work/worker" "$connector" >"$work/state" || fail "connector: $(head -1 "$work/state")"
# Nothing of the backlog repeated while the connector ran on.
got=$(committed "$topic")
[ "$got" = "$EVENTS" ] || fail "Kafka holds $got committed events on $topic after the latency run, expected $EVENTS"
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$lat"; }

java_version=$(java -version 2>&1 | head -1 | sed 's/"//g')
cat >"$OUT" <<JSON
{
  "debezium_events_per_s": $rate,
  "debezium_startup_s": $startup_s,
  "debezium_rss_mb": $rss_mb,
  "debezium_latency_rate_per_s": $(field rate_per_s),
  "debezium_latency_p50_ms": $(field p50_ms),
  "debezium_latency_p99_ms": $(field p99_ms),
  "notes": "Kafka Connect $connect_version (one distributed worker, exactly.once.source.support=enabled, heap -Xms256m -Xmx2g, $java_version) with Debezium $debezium_version PostgresConnector, deploy/kafka-connect/outbox-connector.json as shipped: pgoutput, exactly.once.support=required, transaction.boundary=poll (one Kafka transaction per poll), poll.interval.ms 20 (a batch waits at most 20 ms to fill, like the relay's --batch-ms; Debezium's default is 500), max.batch.size 2048 (default), outbox EventRouter routed by the topic column, key aggregateid, payload bytea as raw bytes (ByteArrayConverter). debezium_events_per_s: the relay section's $EVENTS-event backlog (100/txn, 300 B), streamed from a slot created before the fill, timed from the worker's start (setup included, as the relay is timed from its process start; debezium_startup_s of it) to the end of the first read_committed count that saw every event (polled back to back). debezium_rss_mb: the worker JVM's VmHWM over the backlog. Settings over the shipped file: ${EXTRA[*]:-none}. debezium_latency_*: outbox INSERT (autocommit) -> read_committed consumer, one row per transaction at the rate shown, the same lottery-relay-bench latency run as relay_latency_*."
}
JSON
