#include "lottery/cdc/initial_snapshot.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "lottery/cdc/relay.h"
#include "lottery/common/json.h"
#include "lottery/common/status.h"
#include "spdlog/spdlog.h"

namespace lottery::cdc {

namespace {
// Debian's Abseil has its own string_view.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }
}  // namespace

std::string SnapshotProgressKey(const std::string& slot) {
  return absl::StrCat(slot, ".initial-snapshot");
}

std::string EncodeSnapshotProgress(const SnapshotProgress& p) {
  return json::Dump(json::Json{{"consistent_point", FormatLsn(p.consistent_point)},
                               {"snapshot", p.snapshot},
                               {"last_seq", p.last_seq},
                               {"published", p.published},
                               {"done", p.done},
                               {"written_at_unix_ms", absl::ToUnixMillis(absl::Now())}});
}

absl::StatusOr<SnapshotProgress> DecodeSnapshotProgress(std::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(
        absl::StrCat("initial snapshot progress record ", why, ": ", std::string(text)));
  };
  auto obj = json::ParseObject(text);
  if (!obj.ok()) return bad(obj.status().message());
  SnapshotProgress p;
  std::string point;
  for (const absl::Status& st :
       {json::Get(*obj, "consistent_point", point, true),
        json::Get(*obj, "snapshot", p.snapshot, true), json::Get(*obj, "last_seq", p.last_seq),
        json::Get(*obj, "published", p.published), json::Get(*obj, "done", p.done)}) {
    if (!st.ok()) return bad(st.message());
  }
  auto lsn = ParseLsn(point);
  if (!lsn.ok()) return bad("consistent_point does not parse");
  p.consistent_point = *lsn;
  return p;
}

absl::StatusOr<StartDecision> DecideStart(const std::string& slot, const SlotInfo& info,
                                          const std::optional<Checkpoint>& checkpoint,
                                          const std::optional<SnapshotProgress>& progress,
                                          InitialSnapshot mode, const std::string& database) {
  if (checkpoint || mode == InitialSnapshot::kNone) {
    RETURN_IF_ERROR(CheckSlotForStart(slot, info, checkpoint, database));
    if (info.exists) return StartDecision{StartAction::kStream, "slot and checkpoint exist"};
    return StartDecision{StartAction::kCreateSlot,
                         "first start with --initial-snapshot none: rows committed before the "
                         "slot is created are NOT published"};
  }
  if (!info.exists) {
    return StartDecision{StartAction::kSnapshot,
                         "first start: no slot and no checkpoint, so the rows already in the "
                         "outbox are published from the table first"};
  }
  if (!info.lost()) RETURN_IF_ERROR(CheckSlotForStart(slot, info, checkpoint, database));
  if (progress && !progress->done && !info.lost() &&
      progress->consistent_point == info.confirmed_flush_lsn) {
    return StartDecision{StartAction::kResumeSnapshot,
                         absl::StrCat("an initial snapshot was interrupted after seq ",
                                      progress->last_seq, ": finishing it")};
  }
  if (info.active) {
    return absl::UnavailableError(
        absl::StrCat("replication slot ", slot, " has no checkpoint yet and is held by pid ",
                     info.active_pid, " (another relay starting?); waiting for it to be released"));
  }
  return StartDecision{StartAction::kRedoSnapshot,
                       absl::StrCat("slot ", slot,
                                    " exists but nothing was published from it (no checkpoint, "
                                    "no unfinished snapshot at its position): recreating it and "
                                    "publishing the outbox from the table")};
}

absl::StatusOr<OutboxEvent> OutboxEventFromRow(const PGresult* r, int i) {
  OutboxEvent e;
  std::string_view seq = pg::Value(r, i, 0);
  if (!absl::SimpleAtoi(Av(seq), &e.seq)) {
    return absl::DataLossError(absl::StrCat("outbox seq \"", Av(seq), "\" is not an integer"));
  }
  e.id = std::string(pg::Value(r, i, 1));
  e.aggregatetype = std::string(pg::Value(r, i, 2));
  e.aggregateid = std::string(pg::Value(r, i, 3));
  e.type = std::string(pg::Value(r, i, 4));
  e.topic = std::string(pg::Value(r, i, 5));
  e.content_type = std::string(pg::Value(r, i, 6));
  auto payload = DecodeByteaHex(pg::Value(r, i, 7));
  if (!payload.ok()) {
    return absl::DataLossError(
        absl::StrCat("outbox seq ", e.seq, ": payload: ", payload.status().message()));
  }
  e.payload = *std::move(payload);
  auto headers = ParseFlatJsonObject(pg::Value(r, i, 8));
  if (headers.ok()) {
    e.headers = *std::move(headers);
  } else {
    e.bad_headers = std::string(headers.status().message());
  }
  e.txid = std::string(pg::Value(r, i, 9));
  return e;
}

absl::StatusOr<ExportedSnapshot> CreateSlotWithSnapshot(ReplicationConnection& repl, PGconn* sql,
                                                        const std::string& slot) {
  ASSIGN_OR_RETURN(CreatedSlot created,
                   repl.CreateSlot(slot, ReplicationConnection::Snapshot::kExport));
  ExportedSnapshot out;
  out.consistent_point = created.consistent_point;
  // SET TRANSACTION SNAPSHOT takes no parameters: quote the (server-generated) name.
  char* q = PQescapeLiteral(sql, created.snapshot_name.data(), created.snapshot_name.size());
  std::string set = absl::StrCat("SET TRANSACTION SNAPSHOT ", q != nullptr ? q : "''");
  PQfreemem(q);
  RETURN_IF_ERROR(pg::ExecCommand(sql, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  RETURN_IF_ERROR(pg::ExecCommand(sql, set));
  ASSIGN_OR_RETURN(
      pg::ResultPtr res,
      pg::Exec(sql,
               "SELECT pg_current_snapshot()::text, (SELECT count(*) FROM outbox WHERE NOT "
               "pg_visible_in_snapshot(txid, pg_current_snapshot()))"));
  out.snapshot = std::string(pg::Value(res.get(), 0, 0));
  std::string misfiled(pg::Value(res.get(), 0, 1));
  RETURN_IF_ERROR(pg::ExecCommand(sql, "COMMIT"));
  if (misfiled != "0") {
    return absl::DataLossError(
        absl::StrCat(misfiled,
                     " outbox row(s) visible in the slot's snapshot carry a txid that the snapshot "
                     "does not see: the txid column must keep its default pg_current_xact_id()"));
  }
  return out;
}

absl::StatusOr<SnapshotSummary> SummarizeSnapshot(PGconn* sql, const std::string& snapshot,
                                                  int64_t after_seq) {
  ASSIGN_OR_RETURN(
      pg::ResultPtr res,
      pg::Exec(sql,
               "SELECT count(*), coalesce((extract(epoch FROM min(created_at)) * 1000000)::bigint, "
               "0), coalesce(string_agg(DISTINCT topic, E'\\n'), '') FROM outbox WHERE "
               "pg_visible_in_snapshot(txid, $1::pg_snapshot) AND seq > $2::bigint",
               {pg::Param::Text(snapshot), pg::Param::Text(absl::StrCat(after_seq))}));
  SnapshotSummary s;
  if (!absl::SimpleAtoi(Av(pg::Value(res.get(), 0, 0)), &s.rows) ||
      !absl::SimpleAtoi(Av(pg::Value(res.get(), 0, 1)), &s.min_created_unix_us)) {
    return absl::DataLossError("outbox summary did not parse");
  }
  for (absl::string_view t :
       absl::StrSplit(std::string(pg::Value(res.get(), 0, 2)), '\n', absl::SkipEmpty())) {
    s.topics.emplace_back(t);
  }
  return s;
}

absl::Status PublishSnapshot(PGconn* sql, SnapshotProgress& progress,
                             const absl::flat_hash_set<std::string>& already_in_kafka, size_t batch,
                             const SnapshotSink& sink, const std::atomic<bool>& stop) {
  const std::string query = absl::StrCat(
      "SELECT ", kOutboxColumns,
      " FROM outbox WHERE pg_visible_in_snapshot(txid, $1::pg_snapshot) AND seq > $2::bigint "
      "ORDER BY seq LIMIT $3::bigint");
  absl::Time last_log = absl::Now();
  int64_t skipped = 0;
  while (!stop.load()) {
    ASSIGN_OR_RETURN(pg::ResultPtr rows,
                     pg::Exec(sql, query,
                              {pg::Param::Text(progress.snapshot),
                               pg::Param::Text(absl::StrCat(progress.last_seq)),
                               pg::Param::Text(absl::StrCat(std::max<size_t>(batch, 1)))}));
    int n = PQntuples(rows.get());
    if (n == 0) {
      progress.done = true;
      RETURN_IF_ERROR(sink.commit(progress));
      spdlog::info("initial snapshot done: {} rows published, {} already in Kafka, up to seq {}",
                   progress.published, skipped, progress.last_seq);
      return absl::OkStatus();
    }
    for (int i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(OutboxEvent e, OutboxEventFromRow(rows.get(), i));
      progress.last_seq = e.seq;
      if (already_in_kafka.contains(e.id)) {
        ++skipped;
        continue;
      }
      RETURN_IF_ERROR(sink.publish(e));
      ++progress.published;
    }
    RETURN_IF_ERROR(sink.commit(progress));
    spdlog::debug("initial snapshot: batch committed up to seq {}", progress.last_seq);
    if (absl::Now() - last_log >= absl::Seconds(5)) {
      spdlog::info("initial snapshot: {} rows published so far, last seq {}", progress.published,
                   progress.last_seq);
      last_log = absl::Now();
    }
  }
  spdlog::info(
      "initial snapshot interrupted at seq {} ({} rows published); the next start "
      "finishes it",
      progress.last_seq, progress.published);
  return absl::OkStatus();
}

}  // namespace lottery::cdc
