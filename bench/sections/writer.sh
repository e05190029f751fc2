#!/usr/bin/env bash
# Writer section of `make bench` (see bench/run): N = 10 players per lottery, a pre-filled topic
# of WRITER_BENCH_COUNT (default 500000) stakes over 3 partitions, then
#   ingest_stakes_per_s       from the writer's /metrics, sampled by this script: first records
#                             committed -> all committed in PostgreSQL (offsets included)
#   writer_batch_commit_p99_ms  p99 of BEGIN..COMMIT of its batches (its transaction histogram)
#   writer_rss_mb             peak RSS of the writer process (GNU time)
#   copy_rows_per_s           one COPY of the same number of rows into lottery_entry, same database
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
OUT=${OUT:?}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
COUNT=${WRITER_BENCH_COUNT:-500000}
BATCH=${WRITER_BENCH_BATCH:-5000}
: "${LOTTERY_PG_DSN:?}" "${LOTTERY_KAFKA_BOOTSTRAP:?}"
tag=wbench_$$_$RANDOM
db=$tag
topic=$tag
work=$(mktemp -d)
cleanup() {
  "$BIN/lottery-writer-bench" delete-topic --topic "$topic" >/dev/null 2>&1 || true
  psql "$LOTTERY_PG_DSN" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$LOTTERY_PG_DSN" -qc "CREATE DATABASE $db"
dsn="$LOTTERY_PG_DSN dbname=$db"  # libpq: the last dbname wins
migrate_with_roles "$dsn"
echo "writer bench: producing $COUNT stakes to $topic" >&2
"$BIN/lottery-writer-bench" produce --topic "$topic" --count "$COUNT" --games 100 --players 5000

echo "writer bench: ingesting" >&2
# The rate comes from the writer's /metrics and this script's clock: first committed records ->
# all COUNT committed (offsets included), sampled every 50 ms.
port=$(python3 "$ROOT/bench/writer_metrics.py" free-port)
PGPASSWORD=$BENCH_ROLE_PASSWORD /usr/bin/time -f "%M %U %S %e" -o "$work/rss_kb" \
  "$BIN/lottery-writer" --pg-dsn "$(as_role "$dsn" lottery_writer)" --stake-topic "$topic" \
  --consumer-group "$tag" --players-per-lottery 10 --batch-size "$BATCH" --batch-linger-ms 100 \
  --metrics-addr "127.0.0.1:$port" 2>"$work/writer.log" &
time_pid=$!
summary=$(python3 "$ROOT/bench/writer_metrics.py" progress "http://127.0.0.1:$port/metrics" \
  --target "$COUNT" --pid "$time_pid" --timeout 1800) || summary="records=0"
pkill -TERM -P "$time_pid" || true  # the writer, under GNU time
wait "$time_pid" || true
echo "writer bench: $summary" >&2
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$summary"; }
rate=$(field rate_per_s)
p99=$(field commit_p99_ms)
records=$(field records)
[ "$records" = "$COUNT" ] || { echo "writer bench: writer committed $records of $COUNT" >&2; exit 1; }
entries=$(psql "$dsn" -Atc "SELECT count(*) FROM lottery_entry")
awards=$(psql "$dsn" -Atc "SELECT count(*) FROM lottery_award")
read -r rss_kb cpu_user cpu_sys wall <"$work/rss_kb"; rss_mb=$(( rss_kb / 1024 ))
echo "writer bench: writer cpu user ${cpu_user}s sys ${cpu_sys}s wall ${wall}s" >&2

echo "writer bench: COPY of $COUNT rows" >&2
copy=$("$BIN/lottery-writer-bench" copy --pg-dsn "$dsn" --count "$COUNT" | awk '/copy_rows_per_s/ {print $2}')

cat >"$OUT" <<JSON
{"ingest_stakes_per_s": $rate, "copy_rows_per_s": $copy, "writer_rss_mb": $rss_mb,
 "writer_batch_commit_p99_ms": $p99,
 "notes": "writer: $COUNT stakes, 100 games, 5000 players, N=10, batch $BATCH; $entries entries, $awards awards"}
JSON
cat "$OUT" >&2
