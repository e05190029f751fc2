#include "lottery/cdc/pgoutput.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl_compat.h"
#include "lottery/cdc/byte_cursor.h"
#include "lottery/common/status.h"

namespace lottery::cdc {

namespace {

// Every error this file returns is kDataLoss: a pgoutput message that does not parse is
// malformed WAL, and the relay must stop rather than skip it.
absl::Status Malformed(absl::string_view message, absl::string_view detail) {
  return absl::DataLossError(absl::StrCat("pgoutput ", message, ": ", detail));
}

// Prefixes a cursor error (which names only the field) with the message type.
absl::Status InMessage(absl::string_view message, const absl::Status& s) {
  return Malformed(message, s.message());
}

#define PGO_READ(lhs, expr, message) \
  PGO_READ_IMPL_(LOTTERY_STATUS_CONCAT_(_pgo_sor_, __LINE__), lhs, expr, message)
#define PGO_READ_IMPL_(tmp, lhs, expr, message)           \
  auto tmp = (expr);                                      \
  if (!tmp.ok()) return InMessage(message, tmp.status()); \
  lhs = std::move(tmp).value()

absl::Status CheckFullyConsumed(absl::string_view message, const ByteCursor& c) {
  if (c.empty()) return absl::OkStatus();
  return Malformed(message, absl::StrCat(c.remaining(), " trailing bytes after the message"));
}

// TupleData:
//   Int16  ncols            number of columns
//   then per column, one of:
//     Byte1('n')                      null
//     Byte1('u')                      unchanged TOASTed value (not sent)
//     Byte1('t') Int32 len Byte[len]  text output of the type
//     Byte1('b') Int32 len Byte[len]  binary send output of the type
// `tuple` names the tuple ("new_tuple") in error messages.
absl::Status ReadTupleData(ByteCursor& c, absl::string_view message, absl::string_view tuple,
                           TupleData& out) {
  auto fail = [&](absl::string_view detail) {
    return Malformed(message, absl::StrCat(tuple, ".", detail));
  };
  absl::StatusOr<int16_t> ncols = c.ReadI16("ncols");
  if (!ncols.ok()) return fail(ncols.status().message());
  if (*ncols < 0) return fail(absl::StrCat("ncols: negative (", *ncols, ")"));
  // Each column takes at least one byte: refuse to reserve for columns that cannot be there.
  if (static_cast<size_t>(*ncols) > c.remaining()) {
    return fail(
        absl::StrCat("ncols: ", *ncols, " columns but only ", c.remaining(), " bytes remain"));
  }
  out.columns.clear();
  out.columns.reserve(*ncols);
  for (int i = 0; i < *ncols; ++i) {
    auto col_fail = [&](absl::string_view detail) {
      return fail(absl::StrCat("column[", i, "].", detail));
    };
    absl::StatusOr<uint8_t> kind = c.ReadU8("kind");
    if (!kind.ok()) return col_fail(kind.status().message());
    TupleValue v;
    switch (*kind) {
      case 'n':
        v.kind = TupleValue::Kind::kNull;
        break;
      case 'u':
        v.kind = TupleValue::Kind::kUnchangedToast;
        break;
      case 't':
      case 'b': {
        v.kind = static_cast<TupleValue::Kind>(*kind);
        absl::StatusOr<int32_t> len = c.ReadI32("length");
        if (!len.ok()) return col_fail(len.status().message());
        if (*len < 0) return col_fail(absl::StrCat("length: negative (", *len, ")"));
        absl::StatusOr<std::string_view> data = c.ReadBytes(static_cast<size_t>(*len), "data");
        if (!data.ok()) return col_fail(data.status().message());
        v.data = std::string(*data);
        break;
      }
      default:
        return col_fail(absl::StrCat("kind: unknown 0x", absl::Hex(*kind, absl::kZeroPad2)));
    }
    out.columns.push_back(std::move(v));
  }
  return absl::OkStatus();
}

// Begin:
//   Byte1('B')
//   Int64  final_lsn    LSN of the commit record
//   Int64  commit_time  microseconds since 2000-01-01
//   Int32  xid
absl::StatusOr<PgOutputMessage> DecodeBegin(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Begin";
  Begin m;
  PGO_READ(m.final_lsn, c.ReadU64("final_lsn"), kMsg);
  PGO_READ(m.commit_time, c.ReadI64("commit_time"), kMsg);
  PGO_READ(m.xid, c.ReadU32("xid"), kMsg);
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

// Commit:
//   Byte1('C')
//   Int8   flags        unused (0)
//   Int64  commit_lsn   LSN of the commit record
//   Int64  end_lsn      end of the commit record
//   Int64  commit_time  microseconds since 2000-01-01
absl::StatusOr<PgOutputMessage> DecodeCommit(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Commit";
  Commit m;
  PGO_READ(m.flags, c.ReadU8("flags"), kMsg);
  PGO_READ(m.commit_lsn, c.ReadU64("commit_lsn"), kMsg);
  PGO_READ(m.end_lsn, c.ReadU64("end_lsn"), kMsg);
  PGO_READ(m.commit_time, c.ReadI64("commit_time"), kMsg);
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

// Origin:
//   Byte1('O')
//   Int64   commit_lsn  commit LSN on the origin server
//   String  name        origin name, NUL-terminated
absl::StatusOr<PgOutputMessage> DecodeOrigin(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Origin";
  Origin m;
  PGO_READ(m.commit_lsn, c.ReadU64("commit_lsn"), kMsg);
  PGO_READ(m.name, c.ReadCString("name"), kMsg);
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

// Relation:
//   Byte1('R')
//   Int32   oid               relation OID
//   String  namespace         "" for pg_catalog
//   String  relation_name
//   Int8    replica_identity  'd', 'n', 'f' or 'i' (relreplident)
//   Int16   ncols
//   then per column:
//     Int8    flags           1: part of the key, else 0
//     String  name
//     Int32   type_oid
//     Int32   type_modifier   atttypmod
absl::StatusOr<PgOutputMessage> DecodeRelation(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Relation";
  Relation m;
  PGO_READ(m.oid, c.ReadU32("oid"), kMsg);
  PGO_READ(m.namespace_name, c.ReadCString("namespace"), kMsg);
  PGO_READ(m.relation_name, c.ReadCString("relation_name"), kMsg);
  PGO_READ(uint8_t identity, c.ReadU8("replica_identity"), kMsg);
  if (identity != 'd' && identity != 'n' && identity != 'f' && identity != 'i') {
    return Malformed(
        kMsg, absl::StrCat("replica_identity: unknown 0x", absl::Hex(identity, absl::kZeroPad2)));
  }
  m.replica_identity = static_cast<char>(identity);
  PGO_READ(int16_t ncols, c.ReadI16("ncols"), kMsg);
  if (ncols < 0) return Malformed(kMsg, absl::StrCat("ncols: negative (", ncols, ")"));
  // A column takes at least 10 bytes (flags, "\0", type_oid, type_modifier).
  if (static_cast<size_t>(ncols) > c.remaining() / 10) {
    return Malformed(
        kMsg, absl::StrCat("ncols: ", ncols, " columns but only ", c.remaining(), " bytes remain"));
  }
  m.columns.reserve(ncols);
  for (int i = 0; i < ncols; ++i) {
    RelationColumn col;
    auto fail = [&](const absl::Status& st) {
      return Malformed(kMsg, absl::StrCat("column[", i, "].", st.message()));
    };
    absl::StatusOr<uint8_t> flags = c.ReadU8("flags");
    if (!flags.ok()) return fail(flags.status());
    col.flags = *flags;
    absl::StatusOr<std::string_view> name = c.ReadCString("name");
    if (!name.ok()) return fail(name.status());
    col.name = std::string(*name);
    absl::StatusOr<uint32_t> type_oid = c.ReadU32("type_oid");
    if (!type_oid.ok()) return fail(type_oid.status());
    col.type_oid = *type_oid;
    absl::StatusOr<int32_t> typmod = c.ReadI32("type_modifier");
    if (!typmod.ok()) return fail(typmod.status());
    col.type_modifier = *typmod;
    m.columns.push_back(std::move(col));
  }
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

// Type:
//   Byte1('Y')
//   Int32   oid        type OID
//   String  namespace  "" for pg_catalog
//   String  name
absl::StatusOr<PgOutputMessage> DecodeType(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Type";
  Type m;
  PGO_READ(m.oid, c.ReadU32("oid"), kMsg);
  PGO_READ(m.namespace_name, c.ReadCString("namespace"), kMsg);
  PGO_READ(m.name, c.ReadCString("name"), kMsg);
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

// Insert:
//   Byte1('I')
//   Int32      relation_oid
//   Byte1('N')
//   TupleData  new_tuple
absl::StatusOr<PgOutputMessage> DecodeInsert(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Insert";
  Insert m;
  PGO_READ(m.relation_oid, c.ReadU32("relation_oid"), kMsg);
  PGO_READ(uint8_t marker, c.ReadU8("new_tuple_marker"), kMsg);
  if (marker != 'N') {
    return Malformed(kMsg, absl::StrCat("new_tuple_marker: want 'N', got 0x",
                                        absl::Hex(marker, absl::kZeroPad2)));
  }
  RETURN_IF_ERROR(ReadTupleData(c, kMsg, "new_tuple", m.new_tuple));
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

// Update:
//   Byte1('U')
//   Int32      relation_oid
//   optional:
//     Byte1('K') TupleData old_key    key columns changed (replica identity DEFAULT/INDEX)
//     Byte1('O') TupleData old_tuple  whole old row (replica identity FULL)
//   Byte1('N')
//   TupleData  new_tuple
absl::StatusOr<PgOutputMessage> DecodeUpdate(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Update";
  Update m;
  PGO_READ(m.relation_oid, c.ReadU32("relation_oid"), kMsg);
  PGO_READ(uint8_t marker, c.ReadU8("tuple_marker"), kMsg);
  if (marker == 'K' || marker == 'O') {
    m.old_tuple_kind = static_cast<OldTupleKind>(marker);
    RETURN_IF_ERROR(ReadTupleData(c, kMsg, "old_tuple", m.old_tuple));
    PGO_READ(marker, c.ReadU8("new_tuple_marker"), kMsg);
  }
  if (marker != 'N') {
    return Malformed(kMsg, absl::StrCat("new_tuple_marker: want 'N', got 0x",
                                        absl::Hex(marker, absl::kZeroPad2)));
  }
  RETURN_IF_ERROR(ReadTupleData(c, kMsg, "new_tuple", m.new_tuple));
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

// Delete:
//   Byte1('D')
//   Int32      relation_oid
//   Byte1('K') TupleData old_key    (replica identity DEFAULT/INDEX)
//   or Byte1('O') TupleData old_tuple (replica identity FULL)
absl::StatusOr<PgOutputMessage> DecodeDelete(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Delete";
  Delete m;
  PGO_READ(m.relation_oid, c.ReadU32("relation_oid"), kMsg);
  PGO_READ(uint8_t marker, c.ReadU8("old_tuple_marker"), kMsg);
  if (marker != 'K' && marker != 'O') {
    return Malformed(kMsg, absl::StrCat("old_tuple_marker: want 'K' or 'O', got 0x",
                                        absl::Hex(marker, absl::kZeroPad2)));
  }
  m.old_tuple_kind = static_cast<OldTupleKind>(marker);
  RETURN_IF_ERROR(ReadTupleData(c, kMsg, "old_tuple", m.old_tuple));
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

// Truncate:
//   Byte1('T')
//   Int32  nrelations
//   Int8   options   bit 0: CASCADE, bit 1: RESTART IDENTITY
//   Int32  relation_oid, nrelations times
absl::StatusOr<PgOutputMessage> DecodeTruncate(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Truncate";
  Truncate m;
  PGO_READ(int32_t n, c.ReadI32("nrelations"), kMsg);
  PGO_READ(m.options, c.ReadU8("options"), kMsg);
  if (n < 0) return Malformed(kMsg, absl::StrCat("nrelations: negative (", n, ")"));
  if (static_cast<size_t>(n) > c.remaining() / 4) {
    return Malformed(
        kMsg, absl::StrCat("nrelations: ", n, " OIDs but only ", c.remaining(), " bytes remain"));
  }
  m.relation_oids.reserve(n);
  for (int32_t i = 0; i < n; ++i) {
    absl::StatusOr<uint32_t> oid = c.ReadU32("relation_oid");
    if (!oid.ok()) {
      return Malformed(kMsg, absl::StrCat("relation_oid[", i, "]: ", oid.status().message()));
    }
    m.relation_oids.push_back(*oid);
  }
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

// Message (pg_logical_emit_message), proto 1 (no xid: that is only sent when streaming):
//   Byte1('M')
//   Int8    flags    bit 0: transactional
//   Int64   lsn      LSN of the message
//   String  prefix
//   Int32   length
//   Byte[length] content
absl::StatusOr<PgOutputMessage> DecodeMessage(ByteCursor& c) {
  constexpr absl::string_view kMsg = "Message";
  LogicalMessage m;
  PGO_READ(m.flags, c.ReadU8("flags"), kMsg);
  PGO_READ(m.lsn, c.ReadU64("lsn"), kMsg);
  PGO_READ(m.prefix, c.ReadCString("prefix"), kMsg);
  PGO_READ(int32_t len, c.ReadI32("content_length"), kMsg);
  if (len < 0) return Malformed(kMsg, absl::StrCat("content_length: negative (", len, ")"));
  PGO_READ(m.content, c.ReadBytes(static_cast<size_t>(len), "content"), kMsg);
  RETURN_IF_ERROR(CheckFullyConsumed(kMsg, c));
  return m;
}

struct NameVisitor {
  std::string_view operator()(const Begin&) const { return "Begin"; }
  std::string_view operator()(const Commit&) const { return "Commit"; }
  std::string_view operator()(const Origin&) const { return "Origin"; }
  std::string_view operator()(const Relation&) const { return "Relation"; }
  std::string_view operator()(const Type&) const { return "Type"; }
  std::string_view operator()(const Insert&) const { return "Insert"; }
  std::string_view operator()(const Update&) const { return "Update"; }
  std::string_view operator()(const Delete&) const { return "Delete"; }
  std::string_view operator()(const Truncate&) const { return "Truncate"; }
  std::string_view operator()(const LogicalMessage&) const { return "Message"; }
};

}  // namespace

absl::StatusOr<PgOutputMessage> DecodePgOutput(std::string_view bytes) {
  ByteCursor c(bytes);
  absl::StatusOr<uint8_t> tag = c.ReadU8("tag");
  if (!tag.ok()) return Malformed("message", "empty message (no tag)");
  switch (*tag) {
    case 'B':
      return DecodeBegin(c);
    case 'C':
      return DecodeCommit(c);
    case 'O':
      return DecodeOrigin(c);
    case 'R':
      return DecodeRelation(c);
    case 'Y':
      return DecodeType(c);
    case 'I':
      return DecodeInsert(c);
    case 'U':
      return DecodeUpdate(c);
    case 'D':
      return DecodeDelete(c);
    case 'T':
      return DecodeTruncate(c);
    case 'M':
      return DecodeMessage(c);
    default:
      return Malformed("message", absl::StrCat("unknown tag 0x", absl::Hex(*tag, absl::kZeroPad2),
                                               " (proto_version 1 sends B C O R Y I U D T M)"));
  }
}

std::string_view MessageTypeName(const PgOutputMessage& message) {
  return std::visit(NameVisitor{}, message);
}

}  // namespace lottery::cdc
