#!/usr/bin/env bash
# End-to-end section of `make bench` (see bench/run):
#   e2e_p50_ms / e2e_p99_ms  the stake that fills a lottery (the N-th distinct player's) is
#                            produced (rd_kafka_producev called, monotonic clock) -> its award is
#                            returned by a read_committed consumer of lottery.v1.award (same
#                            process, same clock); warm-up excluded; every expected award must
#                            arrive (else the section fails)
#   e2e_rate_per_s           the steady stake rate of the measured part (paced by the clock)
#   e2e_floor_p50_ms / e2e_floor_p99_ms  the same durable path with no logic, at the same rate,
#                            before the daemons start (bench/floor_bench.cc: consume -> one
#                            PostgreSQL transaction -> one Kafka transaction -> read_committed)
#   cpu_s_per_1000_stakes_{writer,relay,postgres,kafka}  CPU seconds (user+sys) each used during
#                            the measured run, per 1,000 stakes (postgres: the postmaster and its
#                            backends; kafka: the broker; null when not on this machine)
#   e2e_capacity_stakes_per_s  the highest rate of E2E_CAPACITY_RATES at which a short run's e2e
#                            p99 stays below 3x e2e_floor_p99_ms (stops at the first that does not)
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
LINGER=${E2E_WRITER_LINGER_MS:-2}       # writer --batch-linger-ms (daemon default 5)
RELAY_MS=${E2E_RELAY_BATCH_MS:-20}      # relay --batch-ms (daemon default 20; 5 and 10 were worse:
                                        # a ~12 ms blocking Kafka commit then runs back to back)
RELAY_PROPS=${E2E_RELAY_KAFKA_PROPS-linger.ms=0}  # relay --kafka-props (daemon's linger.ms is 2)
WRITER_PROPS=${E2E_WRITER_KAFKA_PROPS:-}
FETCH_WAIT=${E2E_CONSUMER_FETCH_WAIT_MS:-5}  # the measuring award consumer's fetch.wait.max.ms
CAP_RATES=${E2E_CAPACITY_RATES:-1500 2000 3000 4000 6000 8000}
CAP_SECONDS=${E2E_CAPACITY_SECONDS:-8}  # measured seconds per capacity step (+2 s warm-up)
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
  "$BIN/lottery-floor-bench" --prefix "$prefix" delete-topics >/dev/null 2>&1 || true
  psql "$dsn" -qAtc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                     WHERE database = current_database()" >/dev/null 2>&1 || true
  psql "$LOTTERY_PG_DSN" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$LOTTERY_PG_DSN" -qc "CREATE DATABASE $db"
migrate_with_roles "$dsn"
"$BIN/lottery-e2e-bench" --prefix "$prefix" create-topics --partitions "$PARTITIONS"

# The floor first, while nothing else of this section runs (same database, server and broker).
echo "e2e bench: floor at $RATE records/s, ${WARMUP}s warm-up + ${SECS}s measured" >&2
floor=$("$BIN/lottery-floor-bench" --prefix "$prefix" --pg-dsn "$dsn" --partitions "$PARTITIONS" \
  run --rate "$RATE" --warmup-s "$WARMUP" --seconds "$SECS") || { echo "e2e bench: floor failed: $floor" >&2; exit 1; }
echo "e2e bench: floor $floor" >&2
ffield() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$floor"; }
floor_p50=$(ffield p50_ms) floor_p99=$(ffield p99_ms)

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
writer_port=$(python3 "$ROOT/bench/writer_metrics.py" free-port)
PGPASSWORD=$BENCH_ROLE_PASSWORD "$BIN/lottery-writer" --pg-dsn "$(as_role "$dsn" lottery_writer)" \
  --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" \
  --topic-prefix "$prefix" --consumer-group "$tag" --players-per-lottery "$N" \
  --batch-linger-ms "$LINGER" --metrics-addr "127.0.0.1:$writer_port" ${WRITER_PROPS:+--kafka-props "$WRITER_PROPS"} \
  >"$work/writer.log" 2>&1 &
writer_pid=$!

echo "e2e bench: $RATE stakes/s, ${WARMUP}s warm-up + ${SECS}s measured, $GAMES games, N=$N," \
  "writer linger ${LINGER} ms, relay batch ${RELAY_MS} ms" >&2
drive() {  # drive RATE WARMUP SECONDS LOTTERY_OFFSET: one run of the driver, its output on stdout
  "$BIN/lottery-e2e-bench" --prefix "$prefix" --pg-dsn "$dsn" run --rate "$1" --warmup-s "$2" \
    --seconds "$3" --lottery-offset "$4" --games "$GAMES" --players-per-lottery "$N" \
    --fetch-wait-ms "$FETCH_WAIT"
}
pg_pid=$(postgres_pid) broker_pid=$(kafka_pid)
pids=("$writer_pid" "$relay_pid" "${pg_pid:-none}" "${broker_pid:-none}")
mapfile -t cpu0 < <(cpu_seconds "${pids[@]}")
set +e
res=$(drive "$RATE" "$WARMUP" "$SECS" 0)
rc=$?
set -e
mapfile -t cpu1 < <(cpu_seconds "${pids[@]}")
echo "$res" >&2

# Capacity: the same daemons, new lotteries per step, rising rates.
capacity=null
if [ $rc -eq 0 ]; then
  limit=$(python3 -c "print(round(3 * $floor_p99, 1))")
  capacity=$RATE
  offset=$(sed -n 's/.*lotteries_per_game=\([0-9]*\).*/\1/p' <<<"$(head -1 <<<"$res")")
  for r in $CAP_RATES; do
    step=$(drive "$r" 2 "$CAP_SECONDS" "$offset" 2>/dev/null) || { echo "e2e bench: capacity: $r/s failed" >&2; break; }
    step_p99=$(sed -n 's/.*\bp99_ms=\([0-9.]*\).*/\1/p' <<<"$step")
    step_rate=$(sed -n 's/.*\brate_per_s=\([0-9.]*\).*/\1/p' <<<"$step")
    echo "e2e bench: capacity step $r/s: rate $step_rate p99 ${step_p99} ms (limit ${limit} ms)" >&2
    python3 -c "import sys; sys.exit(0 if $step_p99 <= $limit and $step_rate >= 0.95 * $r else 1)" || break
    capacity=$r
    offset=$((offset + $(sed -n 's/.*lotteries_per_game=\([0-9]*\).*/\1/p' <<<"$step")))
  done
fi
# The writer's batch commit latency over the whole run, from its transaction histogram.
summary=$(python3 "$ROOT/bench/writer_metrics.py" snapshot "http://127.0.0.1:$writer_port/metrics" || true)
stop "$writer_pid"; writer_pid=
stop "$relay_pid"; relay_pid=
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
stakes=$(field stakes)
per1000() {  # per1000 I: CPU seconds of pids[I] during the measured run, per 1,000 stakes
  python3 -c "import sys; a, b = sys.argv[1], sys.argv[2]
print('null' if 'null' in (a, b) else round((float(b) - float(a)) * 1000 / $stakes, 3))" "${cpu0[$1]:-null}" "${cpu1[$1]:-null}"
}

cat >"$OUT" <<JSON
{
  "e2e_rate_per_s": $(field rate_per_s),
  "e2e_p50_ms": $(field p50_ms),
  "e2e_p99_ms": $(field p99_ms),
  "e2e_floor_p50_ms": $floor_p50,
  "e2e_floor_p99_ms": $floor_p99,
  "e2e_capacity_stakes_per_s": $capacity,
  "cpu_s_per_1000_stakes_writer": $(per1000 0),
  "cpu_s_per_1000_stakes_relay": $(per1000 1),
  "cpu_s_per_1000_stakes_postgres": $(per1000 2),
  "cpu_s_per_1000_stakes_kafka": $(per1000 3),
  "notes": "e2e: $(field measured) lotteries measured (all $(field expected) awards arrived, none twice) at $(field rate_per_s) stakes/s after a ${WARMUP}s warm-up, $GAMES games interleaved, N=$N, one stake per player, stakes keyed by game over $PARTITIONS partitions (award and lottery topics: $PARTITIONS too); clock from rd_kafka_producev() of the filling stake (before its delivery report) to the read_committed consumer's poll returning the award (fetch.wait.max.ms=$FETCH_WAIT), one monotonic clock; writer --batch-linger-ms $LINGER (batch commit p99 ${commit_p99:-?} ms), relay --batch-ms $RELAY_MS (K=500) --kafka-props '$RELAY_PROPS'. Where the time goes (wall clocks of this machine; writer_txn_start = outbox created_at, relay_produce = the award record's CreateTime, ms resolution): ${breakdown}; the last part is the relay's batch window (about M/2 on average) plus one Kafka commit_transaction and the consumer's fetch of the now-stable offset. Floor: $floor (same rate, same database, server and broker, before the daemons started). Capacity: steps of ${CAP_SECONDS}s (+2 s warm-up) at $CAP_RATES stakes/s on the same daemons; a step passes when its p99 is below 3x the floor p99 and it sustained 95% of the rate. CPU per 1,000 stakes: the measured run including its warm-up ($stakes stakes)."
}
JSON
cat "$OUT" >&2
