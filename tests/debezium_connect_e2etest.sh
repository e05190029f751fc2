#!/usr/bin/env bash
# End to end with deploy/kafka-connect/ instead of lottery-cdc-relay: a Kafka Connect worker
# (scripts/connect-worker, deploy/kafka-connect/worker.properties) runs the Debezium outbox
# connector exactly as shipped (deploy/kafka-connect/outbox-connector.json) against a freshly
# migrated database; lottery-stakegen and the real lottery-writer make awards; then every award
# of the outbox must be on the award topic exactly once for a read_committed consumer, with
# key = aggregateid and the headers id (= outbox.id) and messageType (= outbox.type).
#
#   tests/debezium_connect_e2etest.sh BIN_DIR SOURCE_DIR     (CTest: debezium_connect_e2etest)
#
# Needs LOTTERY_PG_DSN and LOTTERY_KAFKA_BOOTSTRAP (make test provides them). The worker and
# connector jars come from Maven Central through scripts/connect-worker fetch: without them the
# test fails; it never skips. Everything it creates is named dbz_e2e_<pid>_<random> and removed
# at exit: database, replication slot, topics (its own and the worker's internal ones).
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR SOURCE_DIR}" && pwd)
ROOT=$(cd "${2:?usage: $0 BIN_DIR SOURCE_DIR}" && pwd)
: "${LOTTERY_PG_DSN:?LOTTERY_PG_DSN is not set (run it under make test or scripts/with-stack)}"
: "${LOTTERY_KAFKA_BOOTSTRAP:?LOTTERY_KAFKA_BOOTSTRAP is not set}"
CONNECT=$ROOT/scripts/connect-worker
STAKES=${DBZ_E2E_STAKES:-400}

say() { echo "debezium e2e: $*" >&2; }
tag=dbz_e2e_$$_$RANDOM
db=$tag
prefix=${tag}_  # the writer's --topic-prefix: every topic of this run is its own
award_topic=${prefix}lottery.v1.award
dsn="$LOTTERY_PG_DSN dbname=$db"  # libpq: the last dbname wins
work=$(mktemp -d)
export LOTTERY_CONNECT_PREFIX=${tag}_connect
password=e2e-only-password
if [ -z "${LOTTERY_SEED_KEY_FILE:-}${LOTTERY_SEED_KEYS:-}" ]; then
  LOTTERY_SEED_KEYS="e2e:$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
  export LOTTERY_SEED_KEYS
fi

fail() {
  say "FAILED: $*"
  if [ -f "$work/worker/rest-url" ]; then
    "$CONNECT" status "$work/worker" "$tag" >&2 || true
  fi
  [ -f "$work/worker/worker.log" ] && { say "worker log (tail):"; tail -40 "$work/worker/worker.log" >&2; }
  [ -f "$work/writer.log" ] && { say "writer log (tail):"; tail -20 "$work/writer.log" >&2; }
  exit 1
}
cleanup() {
  local rc=$?
  [ -n "${writer_pid:-}" ] && kill "$writer_pid" 2>/dev/null && wait "$writer_pid" 2>/dev/null
  "$CONNECT" stop "$work/worker" 2>/dev/null || true
  local args=() t
  while read -r t; do args+=(--topic "$t"); done < <(
    kcat -b "$LOTTERY_KAFKA_BOOTSTRAP" -L -m 5 2>/dev/null | sed -n "s/^  topic \"\(\(__debezium-heartbeat\.\)\{0,1\}${tag}[^\"]*\)\".*/\1/p")
  [ ${#args[@]} -gt 0 ] && "$BIN/lottery-relay-bench" delete-topics "${args[@]}" >/dev/null 2>&1
  # The walsender of a just-stopped worker can hold the slot for a moment.
  local i
  for ((i = 0; i < 20; i++)); do
    psql "$dsn" -qAtc "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                       WHERE database = current_database()" >/dev/null 2>&1 && break
    sleep 0.5
  done
  psql "$LOTTERY_PG_DSN" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

started=$(date +%s)
"$CONNECT" fetch || fail "the Kafka Connect / Debezium jars could not be fetched (scripts/connect-worker fetch)"
psql "$LOTTERY_PG_DSN" -qc "CREATE DATABASE $db" || fail "cannot create database $db"
LOTTERY_WRITER_PASSWORD=$password LOTTERY_RELAY_PASSWORD=$password \
  "$BIN/lottery-migrate" --pg-dsn "$dsn" --roles >"$work/migrate.log" 2>&1 \
  || { cat "$work/migrate.log" >&2; fail "lottery-migrate --roles"; }

# The connector runs as lottery_relay, the relay's role (REPLICATION, SELECT on outbox).
read -r pg_host pg_port < <(psql "$dsn" -qAtF ' ' -c "SELECT host(inet_server_addr()), inet_server_port()")
[ -n "$pg_host" ] || fail "LOTTERY_PG_DSN connects through a Unix socket; the connector needs TCP"
export LOTTERY_CONNECT_PG_HOST=$pg_host LOTTERY_CONNECT_PG_PORT=$pg_port \
  LOTTERY_CONNECT_PG_USER=lottery_relay LOTTERY_CONNECT_PG_PASSWORD=$password LOTTERY_CONNECT_PG_DBNAME=$db
"$CONNECT" start "$work/worker" || fail "the worker did not start"
# Only the names are this run's; every other setting is the shipped file's.
"$CONNECT" deploy "$work/worker" "$ROOT/deploy/kafka-connect/outbox-connector.json" \
  name="$tag" slot.name="$tag" topic.prefix="$tag" || fail "the connector did not start"
# snapshot.mode=no_data: the connector publishes what commits after its slot exists.
for ((i = 0; i < 100; i++)); do
  [ "$(psql "$dsn" -qAtc "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$tag'")" = 1 ] && break
  sleep 0.2
done
[ "$i" -lt 100 ] || fail "the connector created no slot $tag"

say "$STAKES stakes -> lottery-writer (topic prefix $prefix)"
"$BIN/lottery-stakegen" --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" --topic-prefix "$prefix" \
  --count "$STAKES" --players 40 --games 4 >"$work/stakegen.log" 2>&1 \
  || { cat "$work/stakegen.log" >&2; fail "lottery-stakegen"; }
PGPASSWORD=$password "$BIN/lottery-writer" --pg-dsn "$dsn user=lottery_writer" \
  --kafka-bootstrap "$LOTTERY_KAFKA_BOOTSTRAP" --topic-prefix "$prefix" --consumer-group "$tag" \
  --players-per-lottery 3 --metrics-addr off --max-messages "$STAKES" >"$work/writer.log" 2>&1 &
writer_pid=$!
for ((i = 0; i < 1200; i++)); do
  kill -0 "$writer_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$writer_pid" 2>/dev/null && fail "lottery-writer did not commit $STAKES stakes within 120 s"
wait "$writer_pid" || fail "lottery-writer exited with $?"
writer_pid=

# What PostgreSQL says was awarded, one line per award: aggregateid, id, type.
psql "$dsn" -qAtF $'\t' -c "SELECT aggregateid, id, type FROM outbox WHERE topic = '$award_topic' " \
  | LC_ALL=C sort >"$work/expected.tsv"
expected=$(wc -l <"$work/expected.tsv")
awards=$(psql "$dsn" -qAtc "SELECT count(*) FROM lottery_award")
[ "$expected" -gt 0 ] || fail "the writer made no award (see the writer log)"
[ "$expected" = "$awards" ] || fail "$awards lottery_award rows but $expected award rows in the outbox"
say "$expected awards in the outbox; waiting for them on $award_topic"

# consume: every committed record of the award topic, one line each: key, id header, messageType.
consume() {
  kcat -b "$LOTTERY_KAFKA_BOOTSTRAP" -C -t "$award_topic" -o beginning -e -q \
    -X isolation.level=read_committed -f '%k\t%h\n' 2>/dev/null | python3 -c '
import sys
for line in sys.stdin:
    key, _, headers = line.rstrip("\n").partition("\t")
    h = dict(kv.partition("=")[::2] for kv in headers.split(",") if kv)
    print(key, h.get("id", "-"), h.get("messageType", "-"), sep="\t")
' | LC_ALL=C sort
}
got=0
for ((i = 0; i < 120; i++)); do
  "$CONNECT" status "$work/worker" "$tag" >"$work/state" || fail "connector: $(cat "$work/state")"
  consume >"$work/got.tsv" || true
  got=$(wc -l <"$work/got.tsv")
  [ "$got" -ge "$expected" ] && break
  sleep 0.5
done
# A little longer: a duplicate committed after the last award would show now.
sleep 2
consume >"$work/got.tsv" || true
if ! diff "$work/expected.tsv" "$work/got.tsv" >"$work/diff"; then
  say "expected (outbox) vs. read_committed on $award_topic, < missing > extra or repeated:"
  head -20 "$work/diff" >&2
  fail "$(wc -l <"$work/got.tsv") records on $award_topic, expected exactly the $expected awards once each"
fi
"$CONNECT" status "$work/worker" "$tag" >"$work/state" || fail "connector: $(cat "$work/state")"
echo "debezium e2e: ok: $expected awards, each exactly once, key = aggregateid, id and messageType headers ($(($(date +%s) - started)) s)"
