#include "lottery/cdc/recovery/recover.h"

#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/cdc/initial_snapshot.h"
#include "lottery/cdc/outbox_event.h"
#include "lottery/cdc/publisher.h"
#include "lottery/cdc/record_guard.h"
#include "lottery/cdc/recovery/replay.h"
#include "lottery/cdc/replication.h"
#include "lottery/common/json.h"
#include "lottery/common/status.h"
#include "spdlog/spdlog.h"

namespace lottery::cdc::recovery {

namespace {

using Mode = RecoverOptions::Mode;

std::string NewRunId() {
  std::random_device rd;
  uint8_t b[16];
  for (auto& x : b) x = static_cast<uint8_t>(rd());
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  return absl::StrFormat("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                         b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                         b[12], b[13], b[14], b[15]);
}

std::string Literal(PGconn* conn, const std::string& s) {
  char* q = PQescapeLiteral(conn, s.data(), s.size());
  std::string out = q != nullptr ? q : "''";
  PQfreemem(q);
  return out;
}

struct Progress {
  std::string run_id;
  std::string mode;
  Lsn consistent_point = 0;
  int64_t last_seq = 0;
  int64_t published = 0;
  bool done = false;
};

std::string EncodeProgress(const Progress& p) {
  return json::Dump(json::Json{{"run_id", p.run_id},
                               {"mode", p.mode},
                               {"consistent_point", FormatLsn(p.consistent_point)},
                               {"last_seq", p.last_seq},
                               {"published", p.published},
                               {"done", p.done},
                               {"written_at_unix_ms", absl::ToUnixMillis(absl::Now())}});
}

// A temporary slot created with an exported snapshot, and a REPEATABLE READ transaction on that
// snapshot. Both live as long as this object (the temporary slot is dropped by PostgreSQL when the
// replication connection closes).
struct SnapshotSession {
  std::optional<ReplicationConnection> repl;
  pg::ConnPtr sql;
  std::string temp_slot;
  Lsn consistent_point = 0;
  SystemIdentity identity;
};

absl::StatusOr<SnapshotSession> OpenSnapshot(const std::string& dsn, const std::string& run_id) {
  SnapshotSession s;
  ASSIGN_OR_RETURN(ReplicationConnection repl, ReplicationConnection::Connect(dsn));
  s.repl.emplace(std::move(repl));
  ASSIGN_OR_RETURN(s.identity, s.repl->IdentifySystem());
  s.temp_slot = absl::StrCat("lottery_recover_", absl::StrReplaceAll(run_id, {{"-", ""}}));
  ASSIGN_OR_RETURN(CreatedSlot created,
                   s.repl->CreateSlot(s.temp_slot, ReplicationConnection::Snapshot::kExport,
                                      ReplicationConnection::Lifetime::kTemporary));
  s.consistent_point = created.consistent_point;
  const std::string snapshot = created.snapshot_name;
  ASSIGN_OR_RETURN(s.sql, pg::Connect(dsn));
  RETURN_IF_ERROR(pg::ExecCommand(s.sql.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  RETURN_IF_ERROR(pg::ExecCommand(
      s.sql.get(), absl::StrCat("SET TRANSACTION SNAPSHOT ", Literal(s.sql.get(), snapshot))));
  return s;
}

// A row of the recover_rows cursor (kOutboxColumns). recover is run by an operator: a row that
// can never be a record stops it, naming the row, rather than being dead-lettered.
absl::StatusOr<OutboxEvent> RowToEvent(const PGresult* r, int i) {
  ASSIGN_OR_RETURN(OutboxEvent e, OutboxEventFromRow(r, i));
  RecordCheck check = CheckRecord(e, kDefaultMaxRecordBytes);
  if (!check.ok()) {
    return absl::DataLossError(
        absl::StrCat("outbox seq ", e.seq, " id ", e.id, " cannot be published: ", check.detail));
  }
  return e;
}

// confirmed_flush_lsn >= point: every transaction before `point` is in Kafka (or
// had no outbox event) and the relay will not publish it again.
absl::Status WaitForRelay(const RecoverOptions& o, PGconn* conn, Lsn point) {
  absl::Time deadline = absl::Now() + o.wait_for_relay;
  while (true) {
    ASSIGN_OR_RETURN(SlotInfo info, InspectSlot(conn, o.slot));
    if (!info.exists || info.lost()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "replication slot ", o.slot, info.exists ? " was invalidated" : " does not exist",
          ": use `lottery-cdc-relay recover --slot-lost` (it also republishes what the slot "
          "lost)"));
    }
    // The relay confirms an LSN only after the Kafka transaction holding it committed.
    if (info.confirmed_flush_lsn >= point) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the relay did not reach ", FormatLsn(point), " within ",
          absl::FormatDuration(o.wait_for_relay), " (confirmed_flush_lsn ",
          FormatLsn(info.confirmed_flush_lsn), ", slot ", info.active ? "active" : "INACTIVE",
          "): start the relay (recover --from-seq hands over to the running relay) and retry"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// What both procedures have once they checked the slot: the producer, the snapshot the
// candidates are read in, and what they found.
struct Run {
  const RecoverOptions& o;
  RecoverResult result;
  std::unique_ptr<TransactionalProducer> producer;
  SnapshotSession snap;
  CandidateFilter filter;
  absl::flat_hash_set<std::string> published;  // ids already in Kafka
};

// The producer of a run. --slot-lost uses the relay's own transactional.id: a relay started by
// mistake is fenced (and fences us: then nothing of ours commits). --from-seq has its own, so it
// never disturbs the running relay, and two concurrent runs fence each other.
absl::StatusOr<std::unique_ptr<TransactionalProducer>> RecoveryProducer(const RecoverOptions& o) {
  auto bootstrap = o.kafka_props.find("bootstrap.servers");
  if (bootstrap == o.kafka_props.end()) return absl::InvalidArgumentError("no bootstrap.servers");
  RETURN_IF_ERROR(EnsureCheckpointTopic(bootstrap->second, o.checkpoint_topic));
  kafka::Properties props = o.kafka_props;
  props["transaction.timeout.ms"] = "900000";
  std::string txn_id = TransactionalIdForSlot(o.slot);
  if (o.mode == Mode::kFromTable) txn_id += ".recover";
  return TransactionalProducer::Create(props, txn_id);
}

// Opens the snapshot, counts the candidates in it and reads which of them Kafka already has.
// `before_kafka_read` runs between the two (--from-seq waits there for the running relay).
absl::Status FindCandidates(Run& run, const std::function<absl::Status()>& before_kafka_read) {
  const RecoverOptions& o = run.o;
  ASSIGN_OR_RETURN(run.snap, OpenSnapshot(o.pg_dsn, run.result.run_id));
  run.result.consistent_point = run.snap.consistent_point;
  spdlog::info("recovery run {}: snapshot at consistent point {} (temporary slot {})",
               run.result.run_id, FormatLsn(run.snap.consistent_point), run.snap.temp_slot);
  std::vector<pg::Param> params;
  for (const std::string& p : run.filter.params) params.push_back(pg::Param::Text(p));
  ASSIGN_OR_RETURN(
      pg::ResultPtr summary,
      pg::Exec(run.snap.sql.get(),
               absl::StrCat("SELECT count(*), coalesce((extract(epoch FROM min(created_at)) * "
                            "1000000)::bigint, 0), coalesce(string_agg(DISTINCT topic, E'\\n'), "
                            "'') FROM outbox WHERE ",
                            run.filter.where),
               params));
  ASSIGN_OR_RETURN(run.result.candidates, pg::Int64At(summary.get(), 0, 0));
  ASSIGN_OR_RETURN(int64_t min_created_us, pg::Int64At(summary.get(), 0, 1));
  std::vector<std::string> topics;
  for (absl::string_view t :
       absl::StrSplit(std::string(pg::Value(summary.get(), 0, 2)), '\n', absl::SkipEmpty())) {
    topics.emplace_back(t);
  }
  RETURN_IF_ERROR(before_kafka_read());
  const absl::Time since = absl::FromUnixMicros(min_created_us) - o.skew;
  if (run.result.candidates > 0) {
    ASSIGN_OR_RETURN(run.published, PublishedIds(o.kafka_props, topics, since, absl::Minutes(5)));
  }
  spdlog::info("recovery run {}: {} candidate rows in {} topics, {} ids already in Kafka since {}",
               run.result.run_id, run.result.candidates, topics.size(), run.published.size(),
               absl::FormatTime(since));
  return absl::OkStatus();
}

// Publishes every candidate the snapshot holds and Kafka does not, in seq order, with the
// recovery headers, and the progress record in each Kafka transaction. `batch` rows per
// transaction; 0: all in one. `last_commit` produces what the final transaction adds (the
// relay's checkpoint for --slot-lost). Ends the snapshot transaction.
absl::Status RepublishCandidates(Run& run, const std::string& mode, size_t batch,
                                 const std::function<absl::Status()>& last_commit) {
  const RecoverOptions& o = run.o;
  RecoverResult& result = run.result;
  TransactionalProducer& producer = *run.producer;
  std::vector<pg::Param> params;
  for (const std::string& p : run.filter.params) params.push_back(pg::Param::Text(p));
  RETURN_IF_ERROR(pg::ExecCommand(
      run.snap.sql.get(),
      absl::StrCat("DECLARE recover_rows NO SCROLL CURSOR FOR SELECT ", kOutboxColumns,
                   " FROM outbox WHERE ", run.filter.where, " ORDER BY seq"),
      params));
  Progress progress{result.run_id, mode, run.snap.consistent_point};
  size_t in_txn = 0;
  auto commit = [&](bool done) -> absl::Status {
    if (!producer.in_transaction()) RETURN_IF_ERROR(producer.Begin());
    progress.done = done;
    if (done) RETURN_IF_ERROR(last_commit());
    RETURN_IF_ERROR(
        producer.ProduceKeyed(o.checkpoint_topic, ProgressKey(o.slot), EncodeProgress(progress)));
    RETURN_IF_ERROR(producer.Commit(std::chrono::minutes(5)));
    in_txn = 0;
    return absl::OkStatus();
  };
  while (true) {
    ASSIGN_OR_RETURN(
        pg::ResultPtr rows,
        pg::Exec(run.snap.sql.get(),
                 absl::StrCat("FETCH ", std::max<size_t>(o.batch, 1), " FROM recover_rows")));
    const int n = PQntuples(rows.get());
    if (n == 0) break;
    for (int i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(OutboxEvent e, RowToEvent(rows.get(), i));
      if (run.published.contains(e.id)) {
        ++result.already_in_kafka;
        continue;
      }
      e.headers.emplace_back("republished", "true");
      e.headers.emplace_back("recovery-run", result.run_id);
      if (!producer.in_transaction()) RETURN_IF_ERROR(producer.Begin());
      // The commit LSN of a row read from the table is unknown: the `lsn` header is "0/0".
      RETURN_IF_ERROR(producer.Produce(e, 0));
      ++in_txn;
      ++result.published;
      if (result.first_seq == 0) result.first_seq = e.seq;
      result.last_seq = e.seq;
      progress.last_seq = e.seq;
      progress.published = result.published;
      if (batch > 0 && in_txn >= batch) RETURN_IF_ERROR(commit(false));
    }
    producer.Poll();
  }
  RETURN_IF_ERROR(commit(true));
  return pg::ExecCommand(run.snap.sql.get(), "COMMIT");
}

// --from-seq / --since: Kafka lost events; the slot is healthy and its relay keeps running.
absl::StatusOr<RecoverResult> RecoverFromTable(Run& run, PGconn* conn, const SlotInfo& info) {
  const RecoverOptions& o = run.o;
  if (!info.exists || info.lost()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "replication slot ", o.slot, info.exists ? " was invalidated" : " does not exist",
        ": use `lottery-cdc-relay recover --slot-lost`"));
  }
  ASSIGN_OR_RETURN(run.producer, RecoveryProducer(o));
  ASSIGN_OR_RETURN(run.filter, SelectCandidates(o, std::nullopt));
  // What the running relay publishes up to the consistent point must be in Kafka before the
  // ids are read, or a row could be published twice (once by each).
  RETURN_IF_ERROR(
      FindCandidates(run, [&] { return WaitForRelay(o, conn, run.snap.consistent_point); }));
  RETURN_IF_ERROR(RepublishCandidates(run, "from-table", o.batch, [] { return absl::OkStatus(); }));
  return run.result;
}

// --slot-lost: the slot is gone or invalidated, its relay stopped. Everything is published in ONE
// Kafka transaction with the relay's checkpoint, so a crash leaves nothing half-done; then the
// snapshot's temporary slot becomes the relay's.
absl::StatusOr<RecoverResult> RecoverSlotLost(Run& run, PGconn* conn, const SlotInfo& info) {
  const RecoverOptions& o = run.o;
  if (info.exists && !info.lost()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "replication slot ", o.slot, " exists and is not invalidated (wal_status ", info.wal_status,
        "): nothing to recover with --slot-lost; for events Kafka lost use --from-seq/--since"));
  }
  if (info.exists && info.active) {
    return absl::FailedPreconditionError(absl::StrCat("the invalidated slot ", o.slot,
                                                      " is still held by pid ", info.active_pid,
                                                      ": stop the relay first"));
  }
  ASSIGN_OR_RETURN(run.producer, RecoveryProducer(o));
  ASSIGN_OR_RETURN(
      std::optional<Checkpoint> checkpoint,
      ReadCheckpoint(o.kafka_props, o.checkpoint_topic, o.slot, std::chrono::seconds(60)));
  if (info.exists) {  // invalidated: it can never stream again
    spdlog::info("dropping invalidated slot {}", o.slot);
    RETURN_IF_ERROR(
        pg::ExecCommand(conn, "SELECT pg_drop_replication_slot($1)", {pg::Param::Text(o.slot)}));
  }
  ASSIGN_OR_RETURN(run.filter, SelectCandidates(o, checkpoint));
  RETURN_IF_ERROR(FindCandidates(run, [] { return absl::OkStatus(); }));
  RETURN_IF_ERROR(RepublishCandidates(run, "slot-lost", /*batch=*/0, [&]() -> absl::Status {
    Checkpoint cp;
    cp.slot = o.slot;
    cp.lsn = run.snap.consistent_point;
    cp.commit_time = checkpoint ? checkpoint->commit_time : 0;
    cp.system_id = run.snap.identity.system_id;
    cp.database = run.snap.identity.database;
    cp.events = static_cast<uint64_t>(run.result.published);
    cp.written_at_unix_ms = absl::ToUnixMillis(absl::Now());
    return run.producer->ProduceCheckpoint(o.checkpoint_topic, cp);
  }));
  // Turn the temporary slot into the relay's: same consistent point, persistent. Only now may
  // the relay start (before this it refuses: slot missing, checkpoint exists).
  RETURN_IF_ERROR(pg::ExecCommand(conn, "SELECT pg_copy_logical_replication_slot($1, $2, false)",
                                  {pg::Param::Text(run.snap.temp_slot), pg::Param::Text(o.slot)}));
  ASSIGN_OR_RETURN(SlotInfo created, InspectSlot(conn, o.slot));
  spdlog::info("recovery run {}: created slot {} at confirmed_flush_lsn {}", run.result.run_id,
               o.slot, FormatLsn(created.confirmed_flush_lsn));
  return run.result;
}

}  // namespace

absl::StatusOr<CandidateFilter> SelectCandidates(const RecoverOptions& o,
                                                 const std::optional<Checkpoint>& checkpoint) {
  CandidateFilter f;
  if (o.mode == Mode::kSlotLost) {
    if (o.window.has_value() && checkpoint.has_value() && checkpoint->commit_time != 0) {
      const absl::Time from = FromPgMicros(checkpoint->commit_time) - *o.window;
      f.params.push_back(absl::StrCat(absl::ToUnixMicros(from)));
      f.where = "created_at >= to_timestamp($1::bigint / 1000000.0)";
    } else {
      f.where = "true";  // no window, or nothing to measure it from: the whole table
    }
    return f;
  }
  std::vector<std::string> parts;
  if (o.from_seq) {
    f.params.push_back(absl::StrCat(*o.from_seq));
    parts.push_back(absl::StrCat("seq >= $", f.params.size(), "::bigint"));
  }
  if (o.since) {
    f.params.push_back(*o.since);
    parts.push_back(absl::StrCat("created_at >= $", f.params.size(), "::timestamptz"));
  }
  if (parts.empty()) {
    return absl::InvalidArgumentError("recover needs --from-seq, --since or --slot-lost");
  }
  f.where = absl::StrJoin(parts, " AND ");
  return f;
}

absl::StatusOr<RecoverResult> Recover(const RecoverOptions& o) {
  if (o.mode == Mode::kFromTable && !o.from_seq && !o.since) {
    return absl::InvalidArgumentError("recover needs --from-seq, --since or --slot-lost");
  }
  ASSIGN_OR_RETURN(pg::ConnPtr conn, pg::Connect(o.pg_dsn));
  ASSIGN_OR_RETURN(SlotInfo info, InspectSlot(conn.get(), o.slot));
  Run run{.o = o};
  run.result.run_id = o.run_id.empty() ? NewRunId() : o.run_id;
  return o.mode == Mode::kSlotLost ? RecoverSlotLost(run, conn.get(), info)
                                   : RecoverFromTable(run, conn.get(), info);
}

}  // namespace lottery::cdc::recovery
