#!/usr/bin/env bash
# Captures pgoutput (proto_version 1) bytes from a real PostgreSQL 15 into tests/golden/*.hex,
# one message per line as lowercase hex; lines starting with '#' are comments.
#
# usage: capture_golden.sh DSN
#   DSN: a superuser connection to a server with wal_level=logical (replication origins need
#        superuser), e.g. "host=127.0.0.1 port=55999 user=postgres dbname=postgres". A throwaway
#        database pgoutput_golden_$$, a slot and an origin are created and dropped again.
#   GOLDEN_OUT_DIR: write there instead of tests/golden (to compare a fresh capture).
#
# The golden files are committed; re-run only when the scenarios change. LSNs, xids, OIDs and
# timestamps differ from run to run (the uuids, texts and bytes are fixed here), so the tests
# check the fixed values and the invariants between messages, not LSNs.
set -euo pipefail

dsn=${1:?usage: capture_golden.sh DSN}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=${GOLDEN_OUT_DIR:-$here/golden}
db=pgoutput_golden_$$
slot=pgoutput_golden
pubs=lottery_outbox,golden_audit

psql_admin() { psql "$dsn" -X -v ON_ERROR_STOP=1 -q "$@"; }
psql_db() { psql "$dsn dbname=$db" -X -v ON_ERROR_STOP=1 -q "$@"; }

cleanup() {
  psql_db -c "SELECT pg_drop_replication_slot('$slot') FROM pg_replication_slots
              WHERE slot_name = '$slot'" >/dev/null 2>&1 || true
  psql_db -c "SELECT pg_replication_origin_drop('golden_origin')
              FROM pg_replication_origin WHERE roname = 'golden_origin'" >/dev/null 2>&1 || true
  psql_admin -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT

[[ $(psql_admin -tAc "SHOW server_version_num") == 15* ]] || {
  echo "capture_golden.sh: need PostgreSQL 15" >&2; exit 1; }
[[ $(psql_admin -tAc "SHOW wal_level") == logical ]] || {
  echo "capture_golden.sh: need wal_level=logical" >&2; exit 1; }

psql_admin -c "CREATE DATABASE $db"
psql_db -f "$repo/sql/migrations/0001_init.sql" >/dev/null

# A second publication with update/delete/truncate: a table with a primary key (old key 'K'),
# one with REPLICA IDENTITY FULL (old row 'O'), a user-defined enum (Type 'Y') and a TOASTed
# column (unchanged-toast 'u').
psql_db >/dev/null <<'SQL'
CREATE TYPE golden_mood AS ENUM ('calm', 'busy');
CREATE TABLE golden_audit (
  id    integer PRIMARY KEY,
  note  text,
  mood  golden_mood NOT NULL,
  big   text,
  raw   bytea
);
ALTER TABLE golden_audit ALTER COLUMN big SET STORAGE EXTERNAL;  -- no compression: stays toasted
CREATE TABLE golden_full (k integer, v text);
ALTER TABLE golden_full REPLICA IDENTITY FULL;
CREATE PUBLICATION golden_audit FOR TABLE golden_audit, golden_full;
SELECT pg_replication_origin_create('golden_origin');
SQL
psql_db -c "SELECT 1 FROM pg_create_logical_replication_slot('$slot', 'pgoutput')" >/dev/null

# capture NAME DESCRIPTION [extra options]: peeks everything pending into golden/NAME.hex, then
# advances the slot past it so the next scenario starts clean.
capture() {
  local name=$1 description=$2
  shift 2
  local extra=""
  for opt in "$@"; do extra+=", $opt"; done
  {
    echo "# $description"
    echo "# captured from $(psql_db -tAc 'SELECT version()' | cut -d' ' -f1-2) by capture_golden.sh"
    psql_db -tAc "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes(
        '$slot', NULL, NULL, 'proto_version', '1', 'publication_names', '$pubs',
        'messages', 'true'$extra)"
  } >"$out/$name.hex"
  echo "captured $out/$name.hex: $(grep -vc '^#' "$out/$name.hex") messages"
}
advance() {
  psql_db -tAc "SELECT 1 FROM pg_replication_slot_advance('$slot', pg_current_wal_lsn())" >/dev/null
}

psql_db >/dev/null <<'SQL'
INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload, headers)
VALUES ('8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a01', 'lottery', 'lot-1', 'LotteryFinished',
        'lottery.events', 'application/x-protobuf', '\x00ff10deadbeef7f80'::bytea,
        '{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          "x-source": "writer", "quote\"d": "tab\tnew\nline é"}');
SQL
capture outbox_insert_single "one outbox INSERT (bytea with 00/ff, headers with escapes)"
advance

psql_db >/dev/null <<'SQL'
INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload)
VALUES ('8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a02', 'lottery', 'lot-2', 'LotteryStarted',
        'lottery.events', 'application/json', convert_to('{"n":1}', 'UTF8')),
       ('8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a03', 'award', 'aw-1', 'AwardGranted',
        'award.events', 'application/json', ''::bytea),
       ('8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a04', 'award', 'aw-2', 'AwardGranted',
        'award.events', 'application/octet-stream', decode(repeat('ab', 3000), 'hex'));
SQL
capture outbox_insert_multi "one multi-row outbox INSERT (3 rows; empty payload; default headers)"
advance

psql_db >/dev/null <<'SQL'
INSERT INTO golden_audit VALUES
  (1, 'first', 'calm', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i), '\x0102'),
  (2, NULL, 'busy', 'small', NULL);
UPDATE golden_audit SET note = 'changed' WHERE id = 1;         -- big unchanged: 'u'
UPDATE golden_audit SET id = 3 WHERE id = 2;                   -- key changed: old key 'K'
INSERT INTO golden_full VALUES (1, 'one'), (2, 'two');
UPDATE golden_full SET v = 'uno' WHERE k = 1;                  -- identity full: old row 'O'
DELETE FROM golden_audit WHERE id = 3;                         -- 'K'
DELETE FROM golden_full WHERE k = 2;                           -- 'O'
TRUNCATE golden_audit, golden_full RESTART IDENTITY CASCADE;
TRUNCATE golden_full;
SQL
capture audit_changes "second publication: insert, update (u, K, O), delete (K, O), truncate"
capture audit_changes_binary "same changes with the 'binary' option (column kind 'b')" \
  "'binary', 'true'"
advance

psql_db >/dev/null <<'SQL'
BEGIN;
SELECT 1 FROM pg_logical_emit_message(true, 'lottery.tx', 'in a transaction');
INSERT INTO golden_full VALUES (9, 'with message');
COMMIT;
SELECT 1 FROM pg_logical_emit_message(false, 'lottery.nontx', '\x00c0ffee'::bytea);
SQL
capture logical_message "pg_logical_emit_message: transactional (inside B/C) and not"
advance

psql_db >/dev/null <<'SQL'
SELECT pg_replication_origin_session_setup('golden_origin');
BEGIN;
SELECT pg_replication_origin_xact_setup('1/ABCDEF0', '2024-01-02 03:04:05+00');
INSERT INTO golden_full VALUES (10, 'from origin');
COMMIT;
SELECT pg_replication_origin_session_reset();
SQL
capture origin "a transaction replayed from replication origin golden_origin"
advance

psql_db >/dev/null <<'SQL'
INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload, headers)
VALUES ('8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a05', 'lottery', 'lot-5', 'Before', 'lottery.events',
        'text/plain', convert_to('before', 'UTF8'), '{"k": "v"}');
ALTER TABLE outbox ADD COLUMN trace_id text;
INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload, trace_id)
VALUES ('8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a06', 'lottery', 'lot-6', 'After', 'lottery.events',
        'text/plain', convert_to('after', 'UTF8'), 'trace-6');
SQL
capture outbox_alter "outbox INSERT, ALTER TABLE outbox ADD COLUMN trace_id, INSERT again"
advance
