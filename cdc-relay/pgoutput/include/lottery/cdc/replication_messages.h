// The CopyBoth framing of PostgreSQL's streaming replication protocol
// (https://www.postgresql.org/docs/15/protocol-replication.html): what arrives inside each
// CopyData message after START_REPLICATION ... LOGICAL, and the standby status update we send.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lottery/cdc/lsn.h"

namespace lottery::cdc {

// XLogData ('w'). `data` is one pgoutput message: feed it to DecodePgOutput.
struct XLogData {
  Lsn wal_start = 0;      // WAL position of the start of `data`
  Lsn wal_end = 0;        // current end of WAL on the server
  int64_t send_time = 0;  // server clock, microseconds since 2000-01-01 UTC
  std::string data;
};

// Primary keepalive ('k'). When reply_requested, answer with a status update promptly or the
// server drops the connection after wal_sender_timeout.
struct PrimaryKeepalive {
  Lsn wal_end = 0;
  int64_t send_time = 0;  // microseconds since 2000-01-01 UTC
  bool reply_requested = false;
};

using ReplicationMessage = std::variant<XLogData, PrimaryKeepalive>;

// Decodes the payload of one CopyData message from the server. Unknown tag, truncation,
// trailing bytes or a replyRequested byte other than 0/1 -> kDataLoss naming the message and
// field. Pure: no I/O, no state.
absl::StatusOr<ReplicationMessage> DecodeReplicationMessage(std::string_view copy_data);

// Encodes a Standby status update ('r'), the payload of one CopyData message to the server.
// `flush` is what the server may discard WAL up to (the slot's confirmed_flush_lsn): pass only
// an LSN whose events are durable downstream. Always 34 bytes.
std::string EncodeStandbyStatusUpdate(Lsn write, Lsn flush, Lsn apply, int64_t now_pg_micros,
                                      bool reply_requested);

// Seconds between 1970-01-01 and 2000-01-01, the PostgreSQL epoch.
inline constexpr int64_t kPgEpochOffsetSeconds = 946684800;

// Unix microseconds -> microseconds since 2000-01-01 UTC (PostgreSQL's TimestampTz).
constexpr int64_t UnixMicrosToPgMicros(int64_t unix_micros) {
  return unix_micros - kPgEpochOffsetSeconds * 1000000;
}
constexpr int64_t PgMicrosToUnixMicros(int64_t pg_micros) {
  return pg_micros + kPgEpochOffsetSeconds * 1000000;
}
inline int64_t ToPgMicros(absl::Time t) { return UnixMicrosToPgMicros(absl::ToUnixMicros(t)); }
inline absl::Time FromPgMicros(int64_t pg_micros) {
  return absl::FromUnixMicros(PgMicrosToUnixMicros(pg_micros));
}

}  // namespace lottery::cdc
