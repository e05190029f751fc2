// Typed messages of PostgreSQL's pgoutput plugin, protocol version 1, as PostgreSQL 15 sends them
// (https://www.postgresql.org/docs/15/protocol-logicalrep-message-formats.html), and a pure
// decoder for them. Streaming (proto 2) and two-phase (proto 3) messages are never sent under
// proto_version 1 and are rejected as unknown tags.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/cdc/lsn.h"

namespace lottery::cdc {

using Oid = uint32_t;
using TransactionId = uint32_t;

// 'B': start of a transaction; every change up to the matching Commit belongs to it.
struct Begin {
  Lsn final_lsn = 0;        // LSN of the commit record
  int64_t commit_time = 0;  // microseconds since 2000-01-01 UTC
  TransactionId xid = 0;
};

// 'C'
struct Commit {
  uint8_t flags = 0;  // unused, 0 in PostgreSQL 15
  Lsn commit_lsn = 0;
  Lsn end_lsn = 0;          // end of the commit record: confirm this once the txn is durable
  int64_t commit_time = 0;  // microseconds since 2000-01-01 UTC
};

// 'O': the transaction was replayed from another node (replication origin).
struct Origin {
  Lsn commit_lsn = 0;  // commit LSN on the origin server
  std::string name;
};

struct RelationColumn {
  uint8_t flags = 0;  // bit 0: part of the replica identity key
  std::string name;
  Oid type_oid = 0;
  int32_t type_modifier = -1;  // atttypmod
  bool is_key() const { return (flags & 1) != 0; }
};

// 'R': schema of a relation, sent before its first change in a session and again after any
// DDL on it. Later tuples of this OID are laid out as `columns` says.
struct Relation {
  Oid oid = 0;
  std::string namespace_name;  // empty for pg_catalog
  std::string relation_name;
  char replica_identity = 'd';  // 'd' default, 'n' nothing, 'f' full, 'i' index
  std::vector<RelationColumn> columns;
};

// 'Y': a non-builtin data type used by a following Relation.
struct Type {
  Oid oid = 0;
  std::string namespace_name;  // empty for pg_catalog
  std::string name;
};

struct TupleValue {
  enum class Kind : char {
    kNull = 'n',
    kUnchangedToast = 'u',  // the value did not change and was not sent (TOASTed)
    kText = 't',            // `data` is the type's text output
    kBinary = 'b',          // `data` is the type's binary send format
  };
  Kind kind = Kind::kNull;
  std::string data;  // empty for kNull / kUnchangedToast

  friend bool operator==(const TupleValue&, const TupleValue&) = default;
};

// One row. columns[i] belongs to Relation::columns[i] of the relation current at that point
// in the stream.
struct TupleData {
  std::vector<TupleValue> columns;
  friend bool operator==(const TupleData&, const TupleData&) = default;
};

// Which old row image an Update / Delete carries.
enum class OldTupleKind : char {
  kNone = 0,    // Update only: no old image (key unchanged, identity not FULL)
  kKey = 'K',   // only the replica identity columns; others are kNull
  kFull = 'O',  // the whole old row (REPLICA IDENTITY FULL)
};

// 'I'
struct Insert {
  Oid relation_oid = 0;
  TupleData new_tuple;
};

// 'U'
struct Update {
  Oid relation_oid = 0;
  OldTupleKind old_tuple_kind = OldTupleKind::kNone;
  TupleData old_tuple;  // empty when old_tuple_kind == kNone
  TupleData new_tuple;
};

// 'D'
struct Delete {
  Oid relation_oid = 0;
  OldTupleKind old_tuple_kind = OldTupleKind::kKey;  // kKey or kFull, never kNone
  TupleData old_tuple;
};

// 'T'
struct Truncate {
  static constexpr uint8_t kCascade = 1;
  static constexpr uint8_t kRestartIdentity = 2;
  uint8_t options = 0;
  std::vector<Oid> relation_oids;
  bool cascade() const { return (options & kCascade) != 0; }
  bool restart_identity() const { return (options & kRestartIdentity) != 0; }
};

// 'M': pg_logical_emit_message(transactional, prefix, content). Sent only with the
// 'messages' 'true' option. A non-transactional message arrives outside Begin/Commit.
struct LogicalMessage {
  uint8_t flags = 0;  // bit 0: transactional
  Lsn lsn = 0;
  std::string prefix;
  std::string content;  // raw bytes
  bool transactional() const { return (flags & 1) != 0; }
};

using PgOutputMessage = std::variant<Begin, Commit, Origin, Relation, Type, Insert, Update, Delete,
                                     Truncate, LogicalMessage>;

// Decodes exactly one pgoutput message (the `data` of one XLogData). Pure: no I/O, no state;
// relation schemas are the caller's business (RelationCache).
//
// Errors, all kDataLoss (malformed WAL: stop and alert, never skip): empty input, unknown tag,
// truncation, trailing bytes after the message, negative counts or lengths, an unknown tuple
// column kind or old-tuple marker. The message names the message type and the field, e.g.
// "pgoutput Insert: new_tuple.column[3].length: need 4 bytes, 1 remain".
absl::StatusOr<PgOutputMessage> DecodePgOutput(std::string_view bytes);

// "Begin", "Commit", ... for logs and error messages.
std::string_view MessageTypeName(const PgOutputMessage& message);

}  // namespace lottery::cdc
