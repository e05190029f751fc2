#include "lottery/cdc/replication.h"

#include <poll.h>

#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lottery/common/status.h"

namespace lottery::cdc {

namespace {
constexpr char kSqlStatePayload[] = "lottery.sqlstate";

std::string Trimmed(const char* s) {
  std::string msg = s != nullptr ? s : "";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

std::string SqlState(const PGresult* res) {
  const char* s = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  return s != nullptr ? s : "";
}

// Replication commands go through the simple query protocol (PQexec).
absl::StatusOr<pg::ResultPtr> ExecReplicationCommand(PGconn* conn, const std::string& command) {
  pg::ResultPtr res(PQexec(conn, command.c_str()));
  RETURN_IF_ERROR(pg::StatusFromResult(conn, res.get(), command.substr(0, 80)));
  return res;
}

std::string QuoteLiteral(PGconn* conn, const std::string& s) {
  char* q = PQescapeLiteral(conn, s.data(), s.size());
  std::string out = q != nullptr ? q : "''";
  PQfreemem(q);
  return out;
}

}  // namespace

absl::StatusOr<SlotInfo> InspectSlot(PGconn* conn, const std::string& slot) {
  ASSIGN_OR_RETURN(
      pg::ResultPtr res,
      pg::Exec(conn,
               "SELECT s.plugin, s.slot_type, s.database, s.active, coalesce(s.active_pid, 0), "
               "coalesce(s.restart_lsn, '0/0'), coalesce(s.confirmed_flush_lsn, '0/0'), "
               "coalesce(s.wal_status, ''), w.lsn, "
               "coalesce((w.lsn - s.restart_lsn)::bigint, 0) "
               "FROM (SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
               "ELSE pg_current_wal_lsn() END AS lsn) w "
               "LEFT JOIN pg_replication_slots s ON s.slot_name = $1",
               {pg::Param::Text(slot)}));
  SlotInfo info;
  if (PQntuples(res.get()) != 1) return absl::InternalError("pg_replication_slots: no row");
  auto lsn = [&](int col) -> absl::StatusOr<Lsn> {
    return ParseLsn(std::string_view(pg::Value(res.get(), 0, col)));
  };
  ASSIGN_OR_RETURN(info.current_wal_lsn, lsn(8));
  if (pg::IsNull(res.get(), 0, 1)) return info;  // no such slot
  info.exists = true;
  info.plugin = std::string(pg::Value(res.get(), 0, 0));
  info.slot_type = std::string(pg::Value(res.get(), 0, 1));
  info.database = std::string(pg::Value(res.get(), 0, 2));
  info.active = pg::Value(res.get(), 0, 3) == "t";
  info.active_pid = std::atoi(std::string(pg::Value(res.get(), 0, 4)).c_str());
  ASSIGN_OR_RETURN(info.restart_lsn, lsn(5));
  ASSIGN_OR_RETURN(info.confirmed_flush_lsn, lsn(6));
  info.wal_status = std::string(pg::Value(res.get(), 0, 7));
  info.retained_bytes = std::atoll(std::string(pg::Value(res.get(), 0, 9)).c_str());
  return info;
}

absl::StatusOr<bool> PublicationExists(PGconn* conn, const std::string& publication) {
  ASSIGN_OR_RETURN(pg::ResultPtr res,
                   pg::Exec(conn, "SELECT 1 FROM pg_publication WHERE pubname = $1",
                            {pg::Param::Text(publication)}));
  return PQntuples(res.get()) == 1;
}

absl::StatusOr<ReplicationConnection> ReplicationConnection::Connect(const std::string& dsn) {
  // expand_dbname: `dsn` may be key=value or a URI; "replication" given after it wins.
  const char* keys[] = {"dbname", "replication", "application_name", nullptr};
  const char* values[] = {dsn.c_str(), "database", "lottery-cdc-relay", nullptr};
  pg::ConnPtr conn(PQconnectdbParams(keys, values, 1));
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return absl::UnavailableError(absl::StrCat("replication connection to PostgreSQL: ",
                                               Trimmed(PQerrorMessage(conn.get()))));
  }
  return ReplicationConnection(std::move(conn));
}

absl::StatusOr<SystemIdentity> ReplicationConnection::IdentifySystem() {
  ASSIGN_OR_RETURN(pg::ResultPtr res, ExecReplicationCommand(conn_.get(), "IDENTIFY_SYSTEM"));
  if (PQntuples(res.get()) != 1 || PQnfields(res.get()) < 4) {
    return absl::InternalError("IDENTIFY_SYSTEM: unexpected result shape");
  }
  SystemIdentity id;
  id.system_id = std::string(pg::Value(res.get(), 0, 0));
  id.timeline = std::atoi(PQgetvalue(res.get(), 0, 1));
  ASSIGN_OR_RETURN(id.xlogpos, ParseLsn(std::string_view(pg::Value(res.get(), 0, 2))));
  id.database = std::string(pg::Value(res.get(), 0, 3));
  return id;
}

absl::StatusOr<CreatedSlot> ReplicationConnection::CreateSlot(const std::string& slot,
                                                              Snapshot snapshot,
                                                              Lifetime lifetime) {
  const char* mode = snapshot == Snapshot::kExport ? "EXPORT_SNAPSHOT"
                     : snapshot == Snapshot::kUse  ? "USE_SNAPSHOT"
                                                   : "NOEXPORT_SNAPSHOT";
  std::string cmd = absl::StrCat("CREATE_REPLICATION_SLOT ", pg::QuoteIdent(conn_.get(), slot),
                                 lifetime == Lifetime::kTemporary ? " TEMPORARY" : "",
                                 " LOGICAL pgoutput ", mode);
  pg::ResultPtr res(PQexec(conn_.get(), cmd.c_str()));
  if (SqlState(res.get()) == "42710") {
    return absl::AlreadyExistsError(absl::StrCat("replication slot ", slot, " already exists"));
  }
  RETURN_IF_ERROR(pg::StatusFromResult(conn_.get(), res.get(), cmd));
  CreatedSlot created;
  ASSIGN_OR_RETURN(created.consistent_point,
                   ParseLsn(std::string_view(pg::Value(res.get(), 0, 1))));
  if (!pg::IsNull(res.get(), 0, 2)) created.snapshot_name = std::string(pg::Value(res.get(), 0, 2));
  return created;
}

bool IsSlotBusy(const absl::Status& st) {
  auto state = st.GetPayload(kSqlStatePayload);
  return st.code() == absl::StatusCode::kUnavailable && state && *state == "55006";
}

absl::Status ReplicationConnection::StartReplication(const std::string& slot, Lsn start,
                                                     const std::string& publication) {
  std::string cmd = absl::StrCat(
      "START_REPLICATION SLOT ", pg::QuoteIdent(conn_.get(), slot), " LOGICAL ", FormatLsn(start),
      " (proto_version '1', publication_names ", QuoteLiteral(conn_.get(), publication), ")");
  pg::ResultPtr res(PQexec(conn_.get(), cmd.c_str()));
  if (res != nullptr && PQresultStatus(res.get()) == PGRES_COPY_BOTH) return absl::OkStatus();
  std::string state = SqlState(res.get());
  std::string msg =
      absl::StrCat(cmd, ": ", state, " ",
                   Trimmed(res ? PQresultErrorMessage(res.get()) : PQerrorMessage(conn_.get())));
  if (state == "55006") {  // slot active in another process
    absl::Status busy = absl::UnavailableError(msg);
    busy.SetPayload(kSqlStatePayload, absl::Cord(state));
    return busy;
  }
  if (state == "42704" || state == "55000") return absl::FailedPreconditionError(msg);
  RETURN_IF_ERROR(pg::StatusFromResult(conn_.get(), res.get(), cmd));
  return absl::InternalError(msg);
}

absl::StatusOr<std::optional<ReplicationMessage>> ReplicationConnection::TryRead() {
  char* buf = nullptr;
  int n = PQgetCopyData(conn_.get(), &buf, /*async=*/1);
  if (n > 0) {
    std::unique_ptr<char, void (*)(void*)> holder(buf, PQfreemem);
    ASSIGN_OR_RETURN(ReplicationMessage m, DecodeReplicationMessage(std::string_view(buf, n)));
    return std::optional<ReplicationMessage>(std::move(m));
  }
  if (n == 0) return std::nullopt;
  if (n == -1) {
    pg::ResultPtr res(PQgetResult(conn_.get()));
    absl::Status st = pg::StatusFromResult(conn_.get(), res.get(), "replication stream");
    return absl::UnavailableError(absl::StrCat("the server ended the replication stream",
                                               st.ok() ? "" : ": ", st.ok() ? "" : st.message()));
  }
  return absl::UnavailableError(
      absl::StrCat("replication stream: ", Trimmed(PQerrorMessage(conn_.get()))));
}

absl::StatusOr<std::optional<ReplicationMessage>> ReplicationConnection::Receive(
    std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(auto m, TryRead());
  if (m) return m;
  if (timeout.count() <= 0) {
    // "Is anything there now?": read what the socket holds without waiting (PQconsumeInput
    // does not block), so a drained answer means the server has sent nothing more yet.
    if (PQconsumeInput(conn_.get()) == 0) {
      return absl::UnavailableError(
          absl::StrCat("replication stream: ", Trimmed(PQerrorMessage(conn_.get()))));
    }
    return TryRead();
  }
  pollfd pfd{PQsocket(conn_.get()), POLLIN, 0};
  if (pfd.fd < 0) return absl::UnavailableError("replication connection has no socket");
  int r = poll(&pfd, 1, static_cast<int>(timeout.count()));
  if (r < 0 && errno != EINTR) {
    return absl::UnavailableError(absl::StrCat("poll: ", strerror(errno)));
  }
  if (r > 0) {
    if (PQconsumeInput(conn_.get()) == 0) {
      return absl::UnavailableError(
          absl::StrCat("replication stream: ", Trimmed(PQerrorMessage(conn_.get()))));
    }
    return TryRead();
  }
  return std::nullopt;
}

absl::Status ReplicationConnection::SendStatus(Lsn write, Lsn flush, Lsn apply,
                                               bool reply_requested) {
  std::string msg =
      EncodeStandbyStatusUpdate(write, flush, apply, ToPgMicros(absl::Now()), reply_requested);
  if (PQputCopyData(conn_.get(), msg.data(), static_cast<int>(msg.size())) != 1 ||
      PQflush(conn_.get()) != 0) {
    return absl::UnavailableError(
        absl::StrCat("standby status update: ", Trimmed(PQerrorMessage(conn_.get()))));
  }
  return absl::OkStatus();
}

absl::Status ReplicationConnection::EndStream(std::chrono::milliseconds timeout) {
  if (PQputCopyEnd(conn_.get(), nullptr) != 1 || PQflush(conn_.get()) != 0) {
    return absl::UnavailableError(absl::StrCat("CopyDone: ", Trimmed(PQerrorMessage(conn_.get()))));
  }
  // The server answers CopyDone only after it read everything before it (the last status
  // update included): drain the stream to its end, then the command's result.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    char* buf = nullptr;
    int n = PQgetCopyData(conn_.get(), &buf, /*async=*/1);
    if (buf != nullptr) PQfreemem(buf);
    if (n == -1) break;
    if (n == -2) {
      return absl::UnavailableError(
          absl::StrCat("ending the stream: ", Trimmed(PQerrorMessage(conn_.get()))));
    }
    if (n > 0) continue;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return absl::DeadlineExceededError("the server did not end the stream");
    pollfd pfd{PQsocket(conn_.get()), POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      return absl::UnavailableError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (PQconsumeInput(conn_.get()) == 0) {
      return absl::UnavailableError(
          absl::StrCat("ending the stream: ", Trimmed(PQerrorMessage(conn_.get()))));
    }
  }
  while (pg::ResultPtr res{PQgetResult(conn_.get())}) {
  }
  return absl::OkStatus();
}

}  // namespace lottery::cdc
