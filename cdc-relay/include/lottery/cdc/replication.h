// PostgreSQL side of the relay: slot and publication inspection over a normal connection, and
// the streaming-replication connection (replication=database) with its CopyBoth loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "lottery/cdc/lsn.h"
#include "lottery/cdc/replication_messages.h"
#include "lottery/common/pg.h"

namespace lottery::cdc {

inline constexpr char kDefaultSlot[] = "lottery_outbox_relay";
inline constexpr char kDefaultPublication[] = "lottery_outbox";

// A row of pg_replication_slots (plus the server's current WAL position).
struct SlotInfo {
  bool exists = false;
  std::string plugin;
  std::string slot_type;
  std::string database;
  bool active = false;
  int active_pid = 0;
  Lsn restart_lsn = 0;
  Lsn confirmed_flush_lsn = 0;
  std::string wal_status;  // reserved | extended | unreserved | lost ("" when unknown)
  Lsn current_wal_lsn = 0;
  int64_t retained_bytes = 0;  // current WAL position - restart_lsn
  bool lost() const { return wal_status == "lost"; }
};

// Reads the slot's row through a normal (non-replication) connection. exists=false when there is
// no such slot. kUnavailable when the connection broke.
absl::StatusOr<SlotInfo> InspectSlot(PGconn* conn, const std::string& slot);

// Whether the publication exists in the connection's database.
absl::StatusOr<bool> PublicationExists(PGconn* conn, const std::string& publication);

// IDENTIFY_SYSTEM's answer.
struct SystemIdentity {
  std::string system_id;
  int timeline = 0;
  Lsn xlogpos = 0;
  std::string database;
};

struct CreatedSlot {
  Lsn consistent_point = 0;
  std::string snapshot_name;  // only with kExport
};

// START_REPLICATION's "replication slot … is active for PID …" (SQLSTATE 55006): another
// process streams the slot. kUnavailable; this tells it from other unavailability.
bool IsSlotBusy(const absl::Status& st);

// A replication=database connection. Not thread-safe; one per relay session.
class ReplicationConnection {
 public:
  // Opens `dsn` (key=value or URI) with replication=database. kUnavailable when unreachable.
  static absl::StatusOr<ReplicationConnection> Connect(const std::string& dsn);

  absl::StatusOr<SystemIdentity> IdentifySystem();

  enum class Snapshot { kNothing, kExport, kUse };
  // CREATE_REPLICATION_SLOT <slot> LOGICAL pgoutput. With kExport the exported snapshot stays
  // valid until the next command on this connection (recovery uses it). kAlreadyExists if the
  // slot exists.
  // A temporary slot (kTemporary) is dropped by PostgreSQL when this connection closes.
  enum class Lifetime { kPersistent, kTemporary };
  absl::StatusOr<CreatedSlot> CreateSlot(const std::string& slot, Snapshot snapshot,
                                         Lifetime lifetime = Lifetime::kPersistent);

  // START_REPLICATION SLOT <slot> LOGICAL <start> (proto_version '1', publication_names '<pub>').
  // start=0 resumes from the slot's confirmed_flush_lsn. Errors: kFailedPrecondition when the slot
  // does not exist or was invalidated; kUnavailable when it is active in another process (retry)
  // or the connection broke.
  absl::Status StartReplication(const std::string& slot, Lsn start, const std::string& publication);

  // Waits up to `timeout` for the next CopyData message of the stream. nullopt on timeout.
  // kUnavailable when the connection broke or the server ended the stream; kDataLoss when the
  // framing does not decode.
  absl::StatusOr<std::optional<ReplicationMessage>> Receive(std::chrono::milliseconds timeout);

  // Sends a standby status update (write/flush/apply positions) and flushes it.
  absl::Status SendStatus(Lsn write, Lsn flush, Lsn apply, bool reply_requested);
  // Ends the stream (CopyDone) and waits until the server ended it too: after it returns OK the
  // server has processed every status update sent before, so the slot's confirmed_flush_lsn is
  // what the last one said.
  absl::Status EndStream(std::chrono::milliseconds timeout);

  PGconn* get() const { return conn_.get(); }

 private:
  explicit ReplicationConnection(pg::ConnPtr conn) : conn_(std::move(conn)) {}
  absl::StatusOr<std::optional<ReplicationMessage>> TryRead();
  pg::ConnPtr conn_;
};

}  // namespace lottery::cdc
