#include "lottery/cdc/replication_messages.h"

#include "absl/strings/str_cat.h"
#include "lottery/cdc/byte_cursor.h"
#include "lottery/common/status.h"

namespace lottery::cdc {
namespace {

absl::Status TrailingBytes(absl::string_view message, size_t n) {
  return absl::DataLossError(
      absl::StrCat("replication ", message, ": ", n, " trailing bytes after the message"));
}

// XLogData, after the tag:
//   Int64  dataStart  WAL position of the start of the data
//   Int64  walEnd     current end of WAL on the server
//   Int64  sendTime   server clock, microseconds since 2000-01-01
//   Byte*  data       the rest of the message: one pgoutput message
absl::StatusOr<ReplicationMessage> DecodeXLogData(ByteCursor& c) {
  XLogData m;
  ASSIGN_OR_RETURN(m.wal_start, c.ReadU64("replication XLogData: dataStart"));
  ASSIGN_OR_RETURN(m.wal_end, c.ReadU64("replication XLogData: walEnd"));
  ASSIGN_OR_RETURN(m.send_time, c.ReadI64("replication XLogData: sendTime"));
  ASSIGN_OR_RETURN(std::string_view data, c.ReadBytes(c.remaining(), "replication XLogData: data"));
  m.data = std::string(data);
  return m;
}

// Primary keepalive, after the tag:
//   Int64  walEnd          current end of WAL on the server
//   Int64  sendTime        server clock, microseconds since 2000-01-01
//   Byte1  replyRequested  1: reply now or be disconnected at wal_sender_timeout; else 0
absl::StatusOr<ReplicationMessage> DecodeKeepalive(ByteCursor& c) {
  PrimaryKeepalive m;
  ASSIGN_OR_RETURN(m.wal_end, c.ReadU64("replication PrimaryKeepalive: walEnd"));
  ASSIGN_OR_RETURN(m.send_time, c.ReadI64("replication PrimaryKeepalive: sendTime"));
  ASSIGN_OR_RETURN(uint8_t reply, c.ReadU8("replication PrimaryKeepalive: replyRequested"));
  if (reply > 1) {
    return absl::DataLossError(
        absl::StrCat("replication PrimaryKeepalive: replyRequested: want 0 or 1, got ", reply));
  }
  m.reply_requested = reply == 1;
  if (!c.empty()) return TrailingBytes("PrimaryKeepalive", c.remaining());
  return m;
}

void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

}  // namespace

absl::StatusOr<ReplicationMessage> DecodeReplicationMessage(std::string_view copy_data) {
  ByteCursor c(copy_data);
  ASSIGN_OR_RETURN(uint8_t tag, c.ReadU8("replication message: tag"));
  switch (tag) {
    case 'w':
      return DecodeXLogData(c);
    case 'k':
      return DecodeKeepalive(c);
    default:
      return absl::DataLossError(
          absl::StrCat("replication message: unknown tag 0x", absl::Hex(tag, absl::kZeroPad2)));
  }
}

// Standby status update:
//   Byte1('r')
//   Int64  write   last WAL byte + 1 received and written
//   Int64  flush   last WAL byte + 1 flushed (durable): the server may recycle WAL before it
//   Int64  apply   last WAL byte + 1 applied
//   Int64  clock   client clock, microseconds since 2000-01-01
//   Byte1  replyRequested  1: ask the server to answer immediately
std::string EncodeStandbyStatusUpdate(Lsn write, Lsn flush, Lsn apply, int64_t now_pg_micros,
                                      bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  PutU64(out, write);
  PutU64(out, flush);
  PutU64(out, apply);
  PutU64(out, static_cast<uint64_t>(now_pg_micros));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

}  // namespace lottery::cdc
