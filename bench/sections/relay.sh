#!/usr/bin/env bash
# Relay section of `make bench` (see bench/run):
#   relay_events_per_s       a backlog of RELAY_BENCH_EVENTS (default 200000) outbox events, ~300-byte
#                            payloads, 100 per PostgreSQL transaction: lottery-cdc-relay from start
#                            to "everything up to the end LSN committed in Kafka and confirmed"
#   recvlogical_rows_per_s   pg_recvlogical reading the same changes from a second slot to
#                            /dev/null (the WAL-decoding limit of this machine), same run
#   relay_rss_mb             peak RSS of the relay over the backlog (GNU time)
#   relay_bigtxn_*           ONE PostgreSQL transaction of RELAY_BENCH_BIG_ROWS (default 1000000)
#                            outbox rows: rows/s from start to confirmed, and the relay's peak RSS
#                            (bounded by --max-buffered-rows streaming, not by the transaction)
#   relay_latency_*          outbox row committed -> readable by a read_committed consumer, one row
#                            per transaction at a steady rate, with the relay running (the relay's
#                            share of the stake -> award e2e latency)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
OUT=${OUT:?}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
EVENTS=${RELAY_BENCH_EVENTS:-200000}
RATE=${RELAY_BENCH_RATE:-1000}
SECONDS_STEADY=${RELAY_BENCH_SECONDS:-10}
BIG_ROWS=${RELAY_BENCH_BIG_ROWS:-1000000}
: "${LOTTERY_PG_DSN:?}" "${LOTTERY_KAFKA_BOOTSTRAP:?}"
tag=rbench_$$_$RANDOM
db=$tag
topic=$tag
ltopic=${tag}_lat
btopic=${tag}_big
work=$(mktemp -d)
dsn="$LOTTERY_PG_DSN dbname=$db"  # libpq: the last dbname wins
cleanup() {
  [ -n "${relay_pid:-}" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null || true
  "$BIN/lottery-relay-bench" delete-topics --topic "$topic" --topic "$ltopic" --topic "${ltopic}_w" --topic "$btopic" \
    --topic "${tag}_cp" --topic "${tag}_bcp" \
    >/dev/null 2>&1 || true
  psql "$dsn" -qAtc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                     WHERE database = current_database()" >/dev/null 2>&1 || true
  psql "$LOTTERY_PG_DSN" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
# expect_committed TOPIC N LOG: Kafka holds exactly N committed records on TOPIC, else fail.
expect_committed() {
  local got
  got=$("$BIN/lottery-relay-bench" count --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" --topic "$1")
  if [ "$got" != "$2" ]; then
    echo "relay bench: Kafka holds $got committed events on $1, expected $2" >&2
    tail -20 "$3" >&2
    exit 1
  fi
}

psql "$LOTTERY_PG_DSN" -qc "CREATE DATABASE $db"
migrate_with_roles "$dsn"
relay_dsn=$(as_role "$dsn" lottery_relay)
# Both slots exist before the backlog is written, so both see all of it.
psql "$dsn" -qAtc "SELECT pg_create_logical_replication_slot('${tag}_relay', 'pgoutput'),
                          pg_create_logical_replication_slot('${tag}_recv', 'pgoutput')" >/dev/null
echo "relay bench: filling $EVENTS outbox events" >&2
"$BIN/lottery-relay-bench" fill --pg-dsn "$dsn" --topic "$topic" --events "$EVENTS" \
  --per-txn 100 --payload-bytes 300
end=$(psql "$dsn" -qAtc "SELECT pg_current_wal_lsn()")

echo "relay bench: pg_recvlogical to $end" >&2
t0=$(date +%s.%N)
pg_recvlogical -d "$dsn" --slot "${tag}_recv" --start --endpos "$end" -o proto_version=1 \
  -o publication_names=lottery_outbox -f /dev/null --no-loop 2>"$work/recv.log"
t1=$(date +%s.%N)
recv_rate=$(python3 -c "print(round($EVENTS / ($t1 - $t0)))")

echo "relay bench: lottery-cdc-relay to $end" >&2
t0=$(date +%s.%N)
PGPASSWORD=$BENCH_ROLE_PASSWORD /usr/bin/time -f "%M" -o "$work/rss_kb" \
  "$BIN/lottery-cdc-relay" run --pg-dsn "$relay_dsn" \
  --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" --slot "${tag}_relay" --checkpoint-topic "${tag}_cp" \
  --end-lsn "$end" 2>"$work/relay.log" >&2
t1=$(date +%s.%N)
relay_rate=$(python3 -c "print(round($EVENTS / ($t1 - $t0)))")
rss_mb=$(python3 -c "print(round($(cat "$work/rss_kb") / 1024, 1))")
expect_committed "$topic" "$EVENTS" "$work/relay.log"
echo "relay bench: relay $relay_rate/s, recvlogical $recv_rate/s, rss $rss_mb MB" >&2

# latency TOPIC RELAY_ARGS...: one steady-rate run with a relay started with those arguments.
latency() {
  local t=$1 out
  shift
  PGPASSWORD=$BENCH_ROLE_PASSWORD "$BIN/lottery-cdc-relay" run --pg-dsn "$relay_dsn" \
    --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" \
    --slot "${tag}_relay" --checkpoint-topic "${tag}_cp" "$@" >"$work/relay2.log" 2>&1 &
  relay_pid=$!
  out=$("$BIN/lottery-relay-bench" latency --pg-dsn "$dsn" --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" \
    --topic "$t" --rate "$RATE" --seconds "$SECONDS_STEADY") || { echo "relay bench: $out" >&2; exit 1; }
  kill -TERM "$relay_pid"; wait "$relay_pid" || true; relay_pid=
  echo "$out"
}
echo "relay bench: latency at $RATE rows/s for ${SECONDS_STEADY}s (defaults: the --batch-ms window)" >&2
lat=$(latency "$ltopic")
echo "relay bench: $lat" >&2
# The same with --group-commit true (commit once the stream is drained), same run.
echo "relay bench: latency at $RATE rows/s for ${SECONDS_STEADY}s (--group-commit true)" >&2
wlat=$(latency "${ltopic}_w" --group-commit true)
echo "relay bench: $wlat" >&2
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$lat"; }
wfield() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$wlat"; }

# After the latency run, so that its relay (on the first slot) does not stream this too.
echo "relay bench: one transaction of $BIG_ROWS rows" >&2
psql "$dsn" -qAtc "SELECT pg_create_logical_replication_slot('${tag}_big', 'pgoutput')" >/dev/null
"$BIN/lottery-relay-bench" fill --pg-dsn "$dsn" --topic "$btopic" --events "$BIG_ROWS" \
  --per-txn "$BIG_ROWS" --payload-bytes 300
bend=$(psql "$dsn" -qAtc "SELECT pg_current_wal_lsn()")
t0=$(date +%s.%N)
PGPASSWORD=$BENCH_ROLE_PASSWORD /usr/bin/time -f "%M" -o "$work/big_rss_kb" \
  "$BIN/lottery-cdc-relay" run --pg-dsn "$relay_dsn" \
  --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" --slot "${tag}_big" --checkpoint-topic "${tag}_bcp" \
  --kafka-prop transaction.timeout.ms=600000 --end-lsn "$bend" 2>"$work/big.log" >&2
t1=$(date +%s.%N)
big_rate=$(python3 -c "print(round($BIG_ROWS / ($t1 - $t0)))")
big_rss_mb=$(python3 -c "print(round($(cat "$work/big_rss_kb") / 1024, 1))")
expect_committed "$btopic" "$BIG_ROWS" "$work/big.log"
echo "relay bench: big transaction $big_rate rows/s, rss $big_rss_mb MB" >&2


cat >"$OUT" <<JSON
{
  "relay_events_per_s": $relay_rate,
  "recvlogical_rows_per_s": $recv_rate,
  "relay_rss_mb": $rss_mb,
  "relay_bigtxn_rows": $BIG_ROWS,
  "relay_bigtxn_rows_per_s": $big_rate,
  "relay_bigtxn_rss_mb": $big_rss_mb,
  "relay_latency_rate_per_s": $(field rate_per_s),
  "relay_latency_p50_ms": $(field p50_ms),
  "relay_latency_p99_ms": $(field p99_ms),
  "relay_latency_group_commit_p50_ms": $(wfield p50_ms),
  "relay_latency_group_commit_p99_ms": $(wfield p99_ms),
  "notes": "relay: $EVENTS-event backlog (100/txn, 300 B), relay timed from process start (setup included) to exit at --end-lsn with everything committed and confirmed; recvlogical on a second slot of the same backlog. relay_bigtxn_*: one PostgreSQL transaction of $BIG_ROWS rows (300 B) on its own slot, published as one Kafka transaction (transaction.timeout.ms raised to 10 min for it), streamed past --max-buffered-rows. relay_latency_*: outbox INSERT (autocommit) -> read_committed consumer, one row per transaction at the rate shown, default batching (K=500, M=20 ms); relay_latency_group_commit_*: the same with --group-commit true (a batch commits as soon as the stream is drained); this is the relay's share of the stake -> award e2e latency, not the e2e figure."
}
JSON
