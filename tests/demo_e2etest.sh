#!/usr/bin/env bash
# make demo the way a user ends it: scripts/demo runs until Ctrl-C, and the terminal's Ctrl-C
# reaches the demo's whole process group. Afterwards:
# - the demo exited 130 (interrupted) and printed its summary;
# - the pipeline moved: entries accepted, lotteries drawn, awards in PostgreSQL, awards seen and
#   verified by lottery-watch, none failing its proof;
# - Prometheus still answered when the summary asked it (it must not have been stopped by the
#   same Ctrl-C), and no alert is firing on this healthy run;
# - every process the demo started has ended.
#
#   tests/demo_e2etest.sh BIN_DIR SOURCE_DIR     (CTest: demo_e2etest)
#
# Needs LOTTERY_PG_DSN and LOTTERY_KAFKA_BOOTSTRAP (make test provides them). Everything it creates
# is this run's own: a database, the slot, topics (a topic prefix), the consumer group and a state
# directory, removed at exit. Set DEMO_E2E_SECONDS to run longer than the default 40 s.
set -euo pipefail
BIN=$(cd "${1:?usage: $0 BIN_DIR SOURCE_DIR}" && pwd)
ROOT=$(cd "${2:?usage: $0 BIN_DIR SOURCE_DIR}" && pwd)
: "${LOTTERY_PG_DSN:?LOTTERY_PG_DSN is not set (run it under make test or scripts/with-stack)}"
: "${LOTTERY_KAFKA_BOOTSTRAP:?LOTTERY_KAFKA_BOOTSTRAP is not set}"
SECONDS_TO_RUN=${DEMO_E2E_SECONDS:-40}

say() { echo "demo e2e: $*" >&2; }
tag=demo_e2e_$$_$RANDOM
work=$(mktemp -d)
out=$work/demo.out
demo_pid=

fail() {
  say "FAILED: $*"
  [ -f "$out" ] && { say "demo output (tail, awards left out):"; grep -v "^award " "$out" | tail -40 >&2; }
  local f
  for f in "$work"/state/demo/*.log; do
    [ -f "$f" ] && { say "$(basename "$f") (tail):"; tail -8 "$f" >&2; }
  done
  exit 1
}
cleanup() {
  local rc=$?
  if [ -n "$demo_pid" ] && kill -0 "$demo_pid" 2>/dev/null; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" 2>/dev/null || true
  fi
  # Anything the demo started and left behind (it must not: checked above) is stopped here.
  local pid
  for pid in $(started_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  local args=() t
  while read -r t; do args+=(--topic "$t"); done < <(
    kcat -b "$LOTTERY_KAFKA_BOOTSTRAP" -L -m 5 2>/dev/null | sed -n "s/^  topic \"\(${tag}[^\"]*\)\".*/\1/p")
  [ ${#args[@]} -gt 0 ] && "$BIN/lottery-relay-bench" delete-topics "${args[@]}" >/dev/null 2>&1
  local i
  for ((i = 0; i < 20; i++)); do
    psql "$LOTTERY_PG_DSN dbname=$tag" -qAtc "SELECT pg_drop_replication_slot(slot_name)
      FROM pg_replication_slots WHERE database = current_database()" >/dev/null 2>&1 && break
    sleep 0.5
  done
  psql "$LOTTERY_PG_DSN" -qc "DROP DATABASE IF EXISTS $tag" >/dev/null 2>&1
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

# The pids the demo reported starting ("started NAME (pid N)").
started_pids() { sed -n 's/^demo: started .* (pid \([0-9][0-9]*\)).*/\1/p' "$out" 2>/dev/null; }

psql "$LOTTERY_PG_DSN" -qc "CREATE DATABASE $tag" || fail "cannot create database $tag"
mkdir -p "$work/state"
# Run as `make demo` does, as a job of its own (job control: its own process group, and SIGINT not
# ignored as it would be for a plain background command), so that a signal to the group is
# exactly what a terminal's Ctrl-C does to a foreground job.
set -m
env LOTTERY_PG_DSN="$LOTTERY_PG_DSN dbname=$tag" LOTTERY_STATE_DIR="$work/state" \
  LOTTERY_BIN_DIR="$BIN" LOTTERY_TOPIC_PREFIX="${tag}_" LOTTERY_CONSUMER_GROUP="$tag" \
  LOTTERY_RELAY_SLOT="$tag" LOTTERY_RELAY_CHECKPOINT_TOPIC="${tag}_checkpoints" \
  DEMO_RATE=100 DEMO_PLAYERS_PER_LOTTERY=5 \
  bash "$ROOT/scripts/demo" >"$out" 2>&1 </dev/null &
demo_pid=$!
set +m

say "demo running (pid $demo_pid, prefix ${tag}_); Ctrl-C in $SECONDS_TO_RUN s"
for ((i = 0; i < SECONDS_TO_RUN * 10; i++)); do
  kill -0 "$demo_pid" 2>/dev/null || fail "the demo ended by itself before the Ctrl-C"
  sleep 0.1
done
grep -q '^demo: started prometheus' "$out" || fail "the demo started no Prometheus"
kill -INT -- "-$demo_pid"
for ((i = 0; i < 600; i++)); do
  kill -0 "$demo_pid" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$demo_pid" 2>/dev/null && fail "the demo did not end within 60 s of the Ctrl-C"
rc=0
wait "$demo_pid" || rc=$?
demo_pid=
[ "$rc" = 130 ] || fail "the demo exited $rc after a Ctrl-C, not 130"
grep -q '^================ demo summary' "$out" || fail "no summary after the Ctrl-C"

# summary_value LABEL: the text after "LABEL:" on the summary's line.
summary_value() { sed -n "s/^ *$1: *//p" "$out" | tail -1; }
entries=$(summary_value "accepted entries")
awards=$(summary_value "awards")
[[ "$entries" =~ ^[0-9]+$ ]] && [ "$entries" -gt 0 ] || fail "accepted entries: '$entries'"
[[ "$awards" =~ ^[0-9]+$ ]] && [ "$awards" -gt 0 ] || fail "awards in PostgreSQL: '$awards'"
summary_value "lotteries by status" | grep -q 'finished=' ||
  fail "no lottery was drawn: '$(summary_value "lotteries by status")'"
seen=$(sed -n 's/^awards seen (lottery-watch): *//p' "$out")
[[ "$seen" =~ awards=([0-9]+)\ verified=([0-9]+)\ failed=([0-9]+) ]] || fail "watch summary: '$seen'"
[ "${BASH_REMATCH[1]}" -gt 0 ] || fail "lottery-watch saw no award: $seen"
[ "${BASH_REMATCH[3]}" = 0 ] || fail "an award failed its proof: $seen"
[ "${BASH_REMATCH[2]}" = "${BASH_REMATCH[1]}" ] || fail "not every award verified: $seen"

firing=$(sed -n '/^alerts firing at the end/{n;p}' "$out")
[ -n "$firing" ] || fail "the summary lists no alerts section"
[ "$firing" = "  none" ] || fail "alerts at the end of a healthy run: '$firing'"

for pid in $(started_pids); do
  kill -0 "$pid" 2>/dev/null && fail "pid $pid, started by the demo, still runs after it ended"
done
say "PASS: $entries entries, $awards awards, watch: $seen, no alert firing, every child ended"
