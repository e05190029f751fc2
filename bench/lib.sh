# Sourced by the bench sections. Each daemon runs under the role it runs under in production
# (`lottery-migrate --roles`, README "Database privileges"), so a grant it lacks fails the
# benchmark instead of passing as a superuser. The password reaches the daemons as PGPASSWORD,
# never on a command line; the local stack trusts 127.0.0.1, a remote server may not.
BENCH_ROLE_PASSWORD=${BENCH_ROLE_PASSWORD:-bench-only-password}

# migrate_with_roles DSN: applies the migrations and the shipped roles to that database.
migrate_with_roles() {
  LOTTERY_WRITER_PASSWORD=$BENCH_ROLE_PASSWORD LOTTERY_RELAY_PASSWORD=$BENCH_ROLE_PASSWORD \
    "$BIN/lottery-migrate" --pg-dsn "$1" --roles >/dev/null
}

# as_role DSN ROLE: the DSN for that role (libpq: the last user= wins).
as_role() { echo "$1 user=$2"; }

# postgres_pid: the postmaster of LOTTERY_PG_DSN's server when it runs on this machine and its
# data directory is readable here; else nothing (the CPU figure is then null).
postgres_pid() {
  local dir
  dir=$(psql "$LOTTERY_PG_DSN" -qAtc "SHOW data_directory" 2>/dev/null) || return 0
  [ -r "$dir/postmaster.pid" ] && head -1 "$dir/postmaster.pid"
  return 0
}

# kafka_pid: the process listening on the first bootstrap address's port on this machine, if any.
kafka_pid() {
  local first=${LOTTERY_KAFKA_BOOTSTRAP%%,*}
  ss -Hltnp "sport = :${first##*:}" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2
  return 0
}

# cpu_seconds PID...: CPU seconds used so far by each process tree ("null" if unknown).
cpu_seconds() { python3 "$ROOT/bench/cpu.py" "$@"; }
