#!/usr/bin/env bash
# End-to-end section of `make bench` (see bench/run):
#   e2e_p50_ms / e2e_p99_ms  the stake that fills a lottery (the N-th distinct player's) is
#                            produced (rd_kafka_producev called, monotonic clock) -> its award is
#                            returned by a read_committed consumer of lottery.v1.award (same
#                            process, same clock); warm-up excluded; every expected award must
#                            arrive (else the section fails)
#   e2e_rate_per_s           the steady stake rate of the measured part (paced by the clock)
# A fresh database, unique topic prefix, consumer group and slot; lottery-writer and
# lottery-cdc-relay run as child processes with the settings below (E2E_* overrides them).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
OUT=${OUT:?}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
RATE=${E2E_RATE:-1000}
WARMUP=${E2E_WARMUP_S:-5}
SECS=${E2E_SECONDS:-25}
GAMES=${E2E_GAMES:-50}
N=10
PARTITIONS=${E2E_PARTITIONS:-3}        # of the stake, award and lottery topics (the stack's num.partitions)
# Tuned for latency (see the notes in docs/benchmarks.md and the sweep in the commit message):
LINGER=${E2E_WRITER_LINGER_MS:-2}       # writer --batch-linger-ms (daemon default 50)
RELAY_MS=${E2E_RELAY_BATCH_MS:-20}      # relay --batch-ms (daemon default 20; 5 and 10 were worse:
                                        # a ~12 ms blocking Kafka commit then runs back to back)
RELAY_PROPS=${E2E_RELAY_KAFKA_PROPS-linger.ms=0}  # relay --kafka-props (daemon's linger.ms is 2)
WRITER_PROPS=${E2E_WRITER_KAFKA_PROPS:-}
FETCH_WAIT=${E2E_CONSUMER_FETCH_WAIT_MS:-5}  # the measuring award consumer's fetch.wait.max.ms
: "${LOTTERY_PG_DSN:?}" "${LOTTERY_KAFKA_BOOTSTRAP:?}"
tag=e2e_$$_$RANDOM
db=$tag
prefix=${tag}.
slot=$tag
cptopic=${prefix}lottery.relay.checkpoints
dsn="$LOTTERY_PG_DSN dbname=$db"  # libpq: the last dbname wins
work=$(mktemp -d)
writer_pid= relay_pid=
stop() {  # SIGTERM a child we started, wait for it
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop "$writer_pid"; writer_pid=
  stop "$relay_pid"; relay_pid=
  "$BIN/lottery-e2e-bench" --prefix "$prefix" delete-topics --topic "$cptopic" >/dev/null 2>&1 || true
  psql "$dsn" -qAtc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                     WHERE database = current_database()" >/dev/null 2>&1 || true
  psql "$LOTTERY_PG_DSN" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$LOTTERY_PG_DSN" -qc "CREATE DATABASE $db"
migrate_with_roles "$dsn"
"$BIN/lottery-e2e-bench" --prefix "$prefix" create-topics --partitions "$PARTITIONS"

# The relay first: it creates the slot, and only outbox rows written after that are streamed.
PGPASSWORD=$BENCH_ROLE_PASSWORD "$BIN/lottery-cdc-relay" run --pg-dsn "$(as_role "$dsn" lottery_relay)" \
  --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" \
  --slot "$slot" --checkpoint-topic "$cptopic" --batch-ms "$RELAY_MS" ${RELAY_PROPS:+--kafka-props "$RELAY_PROPS"} \
  >"$work/relay.log" 2>&1 &
relay_pid=$!
for _ in $(seq 100); do
  [ "$(psql "$dsn" -qAtc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$slot'")" = 1 ] && break
  kill -0 "$relay_pid" 2>/dev/null || { tail -20 "$work/relay.log" >&2; exit 1; }
  sleep 0.2
done
PGPASSWORD=$BENCH_ROLE_PASSWORD "$BIN/lottery-writer" --pg-dsn "$(as_role "$dsn" lottery_writer)" \
  --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" \
  --topic-prefix "$prefix" --consumer-group "$tag" --players-per-lottery "$N" \
  --batch-linger-ms "$LINGER" --metrics-addr off ${WRITER_PROPS:+--kafka-props "$WRITER_PROPS"} \
  >"$work/writer.log" 2>&1 &
writer_pid=$!

echo "e2e bench: $RATE stakes/s, ${WARMUP}s warm-up + ${SECS}s measured, $GAMES games, N=$N," \
  "writer linger ${LINGER} ms, relay batch ${RELAY_MS} ms" >&2
set +e
res=$("$BIN/lottery-e2e-bench" --prefix "$prefix" --pg-dsn "$dsn" run --rate "$RATE" \
  --warmup-s "$WARMUP" --seconds "$SECS" --games "$GAMES" --players-per-lottery "$N" --fetch-wait-ms "$FETCH_WAIT")
rc=$?
set -e
echo "$res" >&2
stop "$writer_pid"; writer_pid=
stop "$relay_pid"; relay_pid=
summary=$(grep -o 'summary .*' "$work/writer.log" | tail -1 || true)
echo "e2e bench: writer $summary" >&2
if [ $rc -ne 0 ]; then
  echo "e2e bench: driver failed; writer / relay log tails:" >&2
  tail -5 "$work/writer.log" "$work/relay.log" >&2
  exit 1
fi
line=$(head -1 <<<"$res")
breakdown=$(sed -n 2p <<<"$res")
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$line"; }
commit_p99=$(sed -n 's/.*commit_p99_ms=\([0-9.]*\).*/\1/p' <<<"$summary")

cat >"$OUT" <<JSON
{
  "e2e_rate_per_s": $(field rate_per_s),
  "e2e_p50_ms": $(field p50_ms),
  "e2e_p99_ms": $(field p99_ms),
  "notes": "e2e: $(field measured) lotteries measured (all $(field expected) awards arrived, none twice) at $(field rate_per_s) stakes/s after a ${WARMUP}s warm-up, $GAMES games interleaved, N=$N, one stake per player, stakes keyed by game over $PARTITIONS partitions (award and lottery topics: $PARTITIONS too); clock from rd_kafka_producev() of the filling stake (before its delivery report) to the read_committed consumer's poll returning the award (fetch.wait.max.ms=$FETCH_WAIT), one monotonic clock; writer --batch-linger-ms $LINGER (batch commit p99 ${commit_p99:-?} ms), relay --batch-ms $RELAY_MS (K=500) --kafka-props '$RELAY_PROPS'. Where the time goes (wall clocks of this machine; writer_txn_start = outbox created_at, relay_produce = the award record's CreateTime, ms resolution): ${breakdown}; the last part is the relay's batch window (about M/2 on average) plus one Kafka commit_transaction and the consumer's fetch of the now-stable offset."
}
JSON
cat "$OUT" >&2
