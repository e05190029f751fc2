#include "lottery/cdc/recovery/status.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "lottery/cdc/recovery/recover.h"
#include "lottery/cdc/recovery/replay.h"
#include "lottery/cdc/replication_messages.h"
#include "lottery/common/json.h"
#include "lottery/common/pg.h"

namespace lottery::cdc::recovery {

namespace {
// Whether the last `recover` run did not finish, by its progress record's `done` field (a record
// that does not parse counts as unfinished: running recover again is the way out either way).
bool RecoveryUnfinished(const std::optional<std::string>& progress) {
  if (!progress) return false;
  auto obj = json::ParseObject(*progress);
  bool done = false;
  if (!obj.ok() || !json::Get(*obj, "done", done, true).ok()) return true;
  return !done;
}
}  // namespace

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kHealthy:
      return "healthy";
    case Verdict::kLagging:
      return "lagging";
    case Verdict::kSlotLost:
      return "slot lost";
    case Verdict::kCheckpointAhead:
      return "checkpoint ahead of slot";
    case Verdict::kUnknown:
      return "unknown";
    case Verdict::kNeverStarted:
      return "never started";
    case Verdict::kStalled:
      return "stalled";
    case Verdict::kDegraded:
      return "degraded";
  }
  return "unknown";
}

void Judge(StatusReport& r, const StatusLimits& limits) {
  const SlotInfo& s = r.slot;
  if (r.verdict == Verdict::kUnknown && !r.reason.empty()) return;  // could not read
  if (s.exists)
    r.lag_bytes =
        static_cast<int64_t>(s.current_wal_lsn) - static_cast<int64_t>(s.confirmed_flush_lsn);
  if (r.checkpoint && !r.server_system_id.empty() && !r.checkpoint->system_id.empty() &&
      r.checkpoint->system_id != r.server_system_id) {
    r.verdict = Verdict::kCheckpointAhead;
    r.reason = absl::StrCat("the checkpoint was written from cluster ", r.checkpoint->system_id,
                            ", this server is ", r.server_system_id,
                            " (failover or restore): see docs/operations.md");
    return;
  }
  const Lsn wal = r.wal_after_checkpoint != 0 ? r.wal_after_checkpoint : s.current_wal_lsn;
  if (r.checkpoint && r.checkpoint->lsn > wal) {
    r.verdict = Verdict::kCheckpointAhead;
    r.reason = absl::StrCat(
        "the checkpoint (", FormatLsn(r.checkpoint->lsn), ") is beyond this server's WAL (",
        FormatLsn(wal), "): the database lost WAL that Kafka has (restore?): docs/operations.md");
    return;
  }
  if (!s.exists) {
    if (r.checkpoint) {
      r.verdict = Verdict::kSlotLost;
      r.reason = absl::StrCat("slot ", "does not exist but Kafka holds a checkpoint at ",
                              FormatLsn(r.checkpoint->lsn),
                              ": run `lottery-cdc-relay recover --slot-lost`");
    } else {
      r.verdict = Verdict::kNeverStarted;
      r.reason =
          "no slot and no checkpoint: the relay never ran (its first start creates the slot)";
    }
    return;
  }
  if (s.lost()) {
    r.verdict = Verdict::kSlotLost;
    r.reason =
        "slot invalidated (wal_status=lost, max_slot_wal_keep_size exceeded): run "
        "`lottery-cdc-relay recover --slot-lost`";
    return;
  }
  if (!s.active) {
    r.verdict = Verdict::kLagging;
    r.reason = absl::StrCat("no relay is streaming the slot; it retains ", s.retained_bytes,
                            " bytes of WAL");
    return;
  }
  if (s.wal_status == "unreserved") {
    r.verdict = Verdict::kLagging;
    r.reason =
        "wal_status=unreserved: the slot is about to be invalidated by max_slot_wal_keep_size";
    return;
  }
  if (r.overdue_rows > 0) {
    r.verdict = Verdict::kStalled;
    r.reason = absl::StrFormat(
        "%d outbox row(s) created after the checkpoint are not in Kafka, the oldest %.0f s ago "
        "(limit %s): the relay is connected but not publishing; see its log and "
        "lottery_relay_kafka_transactions_aborted_total",
        r.overdue_rows, r.overdue_age_seconds, absl::FormatDuration(limits.stall_after));
    return;
  }
  if (r.lag_bytes > limits.max_lag_bytes) {
    r.verdict = Verdict::kLagging;
    r.reason = absl::StrCat("lag ", r.lag_bytes, " bytes > ", limits.max_lag_bytes);
    return;
  }
  r.verdict = Verdict::kHealthy;
  r.reason = absl::StrCat("relay streaming, lag ", r.lag_bytes, " bytes");
  if (RecoveryUnfinished(r.recovery_progress)) {
    r.verdict = Verdict::kLagging;
    r.reason = "the last `recover` run did not finish (see recovery:): run it again";
    return;
  }
  if (r.checkpoint && r.checkpoint->dead_lettered > 0) {
    r.verdict = Verdict::kDegraded;
    r.reason =
        absl::StrCat("relay streaming, but ", r.checkpoint->dead_lettered,
                     " outbox row(s) were dead-lettered; last: ", r.checkpoint->last_dead_letter,
                     " (docs/operations.md, \"Dead-lettered rows\")");
  }
}

StatusReport ReadStatus(const std::string& pg_dsn, const kafka::Properties& kafka_props,
                        const std::string& checkpoint_topic, const std::string& slot,
                        const std::string& publication, const StatusLimits& limits) {
  StatusReport r;
  r.slot_name = slot;
  r.publication = publication;
  r.checkpoint_topic = checkpoint_topic;
  auto conn = pg::Connect(pg_dsn);
  if (!conn.ok()) {
    r.reason = absl::StrCat("PostgreSQL: ", conn.status().message());
    return r;
  }
  auto info = InspectSlot(conn->get(), slot);
  if (!info.ok()) {
    r.reason = absl::StrCat("PostgreSQL: ", info.status().message());
    return r;
  }
  r.slot = *info;
  if (auto res = pg::Exec(conn->get(), "SELECT system_identifier::text FROM pg_control_system()");
      res.ok()) {
    r.server_system_id = std::string(pg::Value(res->get(), 0, 0));
  }
  auto cp = ReadCheckpointRecords(kafka_props, checkpoint_topic, slot, absl::Seconds(20));
  if (!cp.ok()) {
    r.reason = absl::StrCat("Kafka checkpoint: ", cp.status().message());
    return r;
  }
  r.checkpoint = cp->checkpoint;
  r.recovery_progress = cp->recovery_progress;
  if (auto after = InspectSlot(conn->get(), slot); after.ok()) {
    r.wal_after_checkpoint = after->current_wal_lsn;
  }
  if (r.checkpoint && r.checkpoint->commit_time != 0) {
    r.lag_seconds = absl::ToDoubleSeconds(absl::Now() - FromPgMicros(r.checkpoint->commit_time));
    auto overdue = pg::Exec(
        conn->get(),
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 "
        "FROM outbox WHERE created_at > to_timestamp($1::float8 / 1000000) "
        "AND created_at < now() - make_interval(secs => $2::float8)",
        {pg::Param::Text(absl::StrCat(absl::ToUnixMicros(FromPgMicros(r.checkpoint->commit_time)))),
         pg::Param::Text(absl::StrCat(absl::ToDoubleSeconds(limits.stall_after)))});
    if (overdue.ok()) {
      r.overdue_rows = std::atoll(std::string(pg::Value(overdue->get(), 0, 0)).c_str());
      r.overdue_age_seconds = std::atof(std::string(pg::Value(overdue->get(), 0, 1)).c_str());
    }
  }
  Judge(r, limits);
  return r;
}

std::string StatusText(const StatusReport& r) {
  const SlotInfo& s = r.slot;
  std::string out = absl::StrCat("relay:       slot ", r.slot_name, ", publication ", r.publication,
                                 ", checkpoint topic ", r.checkpoint_topic, "\n");
  if (s.exists) {
    absl::StrAppend(
        &out, "slot:        exists, ",
        s.active ? absl::StrCat("active (pid ", s.active_pid, ")") : std::string("inactive"),
        ", wal_status ", s.wal_status, "\n", "             confirmed_flush_lsn ",
        FormatLsn(s.confirmed_flush_lsn), ", restart_lsn ", FormatLsn(s.restart_lsn),
        ", retained WAL ", s.retained_bytes, " bytes\n");
  } else {
    absl::StrAppend(&out, "slot:        missing\n");
  }
  absl::StrAppend(&out, "server:      WAL at ", FormatLsn(s.current_wal_lsn),
                  r.server_system_id.empty() ? "" : absl::StrCat(", system ", r.server_system_id),
                  "\n");
  if (r.checkpoint) {
    absl::StrAppend(&out, "checkpoint:  ", FormatLsn(r.checkpoint->lsn), " (system ",
                    r.checkpoint->system_id, ", written at unix ms ",
                    r.checkpoint->written_at_unix_ms, ")\n");
    absl::StrAppend(&out, "dead letters: ", r.checkpoint->dead_lettered,
                    r.checkpoint->dead_lettered > 0
                        ? absl::StrCat(" (last: ", r.checkpoint->last_dead_letter, ")")
                        : std::string(),
                    "\n");
  } else {
    absl::StrAppend(&out, "checkpoint:  none\n");
  }
  if (r.recovery_progress) absl::StrAppend(&out, "recovery:    ", *r.recovery_progress, "\n");
  absl::StrAppend(&out, "lag:         ", r.lag_bytes, " bytes");
  if (r.lag_seconds)
    absl::StrAppend(&out, absl::StrFormat(", last published commit %.1f s ago", *r.lag_seconds));
  absl::StrAppend(&out, "\nverdict:     ", std::string(VerdictName(r.verdict)), ": ", r.reason,
                  "\n");
  return out;
}

std::string StatusJson(const StatusReport& r) {
  const SlotInfo& s = r.slot;
  json::Json cp = nullptr;
  if (r.checkpoint) {
    cp = json::Json{{"lsn", FormatLsn(r.checkpoint->lsn)},
                    {"commit_time_us", r.checkpoint->commit_time},
                    {"system_id", r.checkpoint->system_id},
                    {"written_at_unix_ms", r.checkpoint->written_at_unix_ms},
                    {"dead_lettered", r.checkpoint->dead_lettered},
                    {"last_dead_letter", r.checkpoint->last_dead_letter}};
  }
  json::Json recovery = nullptr;
  if (r.recovery_progress) {
    auto parsed = json::ParseObject(*r.recovery_progress);
    recovery = parsed.ok() ? *parsed : json::Json(*r.recovery_progress);  // shown as it is
  }
  json::Json out{{"verdict", std::string(VerdictName(r.verdict))},
                 {"slot_name", r.slot_name},
                 {"publication", r.publication},
                 {"checkpoint_topic", r.checkpoint_topic},
                 {"overdue_rows", r.overdue_rows},
                 {"exit_code", static_cast<int>(r.verdict)},
                 {"reason", r.reason},
                 {"slot",
                  {{"exists", s.exists},
                   {"active", s.active},
                   {"active_pid", s.active_pid},
                   {"confirmed_flush_lsn", FormatLsn(s.confirmed_flush_lsn)},
                   {"restart_lsn", FormatLsn(s.restart_lsn)},
                   {"wal_status", s.wal_status},
                   {"retained_wal_bytes", s.retained_bytes}}},
                 {"current_wal_lsn", FormatLsn(s.current_wal_lsn)},
                 {"checkpoint", cp},
                 {"recovery", recovery},
                 {"lag_bytes", r.lag_bytes},
                 {"lag_seconds", nullptr}};
  if (r.lag_seconds) out["lag_seconds"] = std::round(*r.lag_seconds * 1000) / 1000;
  return json::Dump(out);
}

}  // namespace lottery::cdc::recovery
