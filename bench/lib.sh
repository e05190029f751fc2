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
