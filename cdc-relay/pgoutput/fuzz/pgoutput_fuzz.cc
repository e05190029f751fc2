// libFuzzer target for the pgoutput decoding layer (scripts/fuzz-pgoutput runs it).
//
// The first input byte picks a path, the rest is the payload:
//   0: DecodePgOutput; a successful decode must re-encode to exactly the input (reference
//      encoder below, written from the protocol documentation), so the decoder neither skips
//      nor invents bytes.
//   1: DecodeReplicationMessage, then DecodePgOutput of an XLogData's data; same re-encode check.
//   2: a stream: [u16 big-endian length][message]..., fed through a RelationCache, with
//      ExtractOutboxEvent on every Insert / Update new tuple whose relation is known.
//   3: the outbox value parsers (bytea hex and the headers JSON) on the raw payload.
// Beyond that, the property is the sanitizers': no crash, no out-of-bounds read, no UB.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "lottery/cdc/outbox_event.h"
#include "lottery/cdc/pgoutput.h"
#include "lottery/cdc/relation_cache.h"
#include "lottery/cdc/replication_messages.h"

namespace lottery::cdc {
namespace {

class Encoder {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void BigEndian(uint64_t v, int n) {
    for (int i = n - 1; i >= 0; --i) out_.push_back(static_cast<char>(v >> (8 * i)));
  }
  void Str(const std::string& s) {
    out_.append(s);
    out_.push_back('\0');
  }
  void Tuple(const TupleData& t) {
    BigEndian(t.columns.size(), 2);
    for (const TupleValue& v : t.columns) {
      U8(static_cast<uint8_t>(v.kind));
      if (v.kind == TupleValue::Kind::kText || v.kind == TupleValue::Kind::kBinary) {
        BigEndian(v.data.size(), 4);
        out_.append(v.data);
      }
    }
  }

  void operator()(const Begin& m) {
    U8('B');
    BigEndian(m.final_lsn, 8);
    BigEndian(m.commit_time, 8);
    BigEndian(m.xid, 4);
  }
  void operator()(const Commit& m) {
    U8('C');
    U8(m.flags);
    BigEndian(m.commit_lsn, 8);
    BigEndian(m.end_lsn, 8);
    BigEndian(m.commit_time, 8);
  }
  void operator()(const Origin& m) {
    U8('O');
    BigEndian(m.commit_lsn, 8);
    Str(m.name);
  }
  void operator()(const Relation& m) {
    U8('R');
    BigEndian(m.oid, 4);
    Str(m.namespace_name);
    Str(m.relation_name);
    U8(static_cast<uint8_t>(m.replica_identity));
    BigEndian(m.columns.size(), 2);
    for (const RelationColumn& c : m.columns) {
      U8(c.flags);
      Str(c.name);
      BigEndian(c.type_oid, 4);
      BigEndian(static_cast<uint32_t>(c.type_modifier), 4);
    }
  }
  void operator()(const Type& m) {
    U8('Y');
    BigEndian(m.oid, 4);
    Str(m.namespace_name);
    Str(m.name);
  }
  void operator()(const Insert& m) {
    U8('I');
    BigEndian(m.relation_oid, 4);
    U8('N');
    Tuple(m.new_tuple);
  }
  void operator()(const Update& m) {
    U8('U');
    BigEndian(m.relation_oid, 4);
    if (m.old_tuple_kind != OldTupleKind::kNone) {
      U8(static_cast<uint8_t>(m.old_tuple_kind));
      Tuple(m.old_tuple);
    }
    U8('N');
    Tuple(m.new_tuple);
  }
  void operator()(const Delete& m) {
    U8('D');
    BigEndian(m.relation_oid, 4);
    U8(static_cast<uint8_t>(m.old_tuple_kind));
    Tuple(m.old_tuple);
  }
  void operator()(const Truncate& m) {
    U8('T');
    BigEndian(m.relation_oids.size(), 4);
    U8(m.options);
    for (Oid oid : m.relation_oids) BigEndian(oid, 4);
  }
  void operator()(const LogicalMessage& m) {
    U8('M');
    U8(m.flags);
    BigEndian(m.lsn, 8);
    Str(m.prefix);
    BigEndian(m.content.size(), 4);
    out_.append(m.content);
  }

  std::string& str() { return out_; }

 private:
  std::string out_;
};

// A violated property: print it and crash, so libFuzzer saves the input.
void Check(bool ok, const char* property) {
  if (ok) return;
  std::fprintf(stderr, "pgoutput_fuzz: property violated: %s\n", property);
  std::abort();
}

void DecodeAndRoundTrip(std::string_view bytes) {
  absl::StatusOr<PgOutputMessage> m = DecodePgOutput(bytes);
  if (!m.ok()) {
    Check(m.status().code() == absl::StatusCode::kDataLoss, "errors are kDataLoss");
    return;
  }
  Check(!MessageTypeName(*m).empty(), "named");
  Encoder e;
  std::visit(e, *m);
  Check(e.str() == bytes, "decode then encode gives the input back");
}

void ReplicationPath(std::string_view bytes) {
  absl::StatusOr<ReplicationMessage> r = DecodeReplicationMessage(bytes);
  if (!r.ok()) return;
  Encoder e;
  if (const auto* x = std::get_if<XLogData>(&*r)) {
    e.U8('w');
    e.BigEndian(x->wal_start, 8);
    e.BigEndian(x->wal_end, 8);
    e.BigEndian(x->send_time, 8);
    e.str().append(x->data);
    DecodeAndRoundTrip(x->data);
  } else {
    const auto& k = std::get<PrimaryKeepalive>(*r);
    e.U8('k');
    e.BigEndian(k.wal_end, 8);
    e.BigEndian(k.send_time, 8);
    e.U8(k.reply_requested);
  }
  Check(e.str() == bytes, "replication message round trip");
}

void StreamPath(std::string_view bytes) {
  RelationCache cache;
  while (bytes.size() >= 2) {
    size_t n = (static_cast<uint8_t>(bytes[0]) << 8) | static_cast<uint8_t>(bytes[1]);
    bytes.remove_prefix(2);
    if (n > bytes.size()) n = bytes.size();
    absl::StatusOr<PgOutputMessage> m = DecodePgOutput(bytes.substr(0, n));
    bytes.remove_prefix(n);
    if (!m.ok()) continue;  // fuzzing only: the relay stops here
    cache.Observe(*m);
    const TupleData* tuple = nullptr;
    Oid oid = 0;
    if (const auto* i = std::get_if<Insert>(&*m)) {
      tuple = &i->new_tuple;
      oid = i->relation_oid;
    } else if (const auto* u = std::get_if<Update>(&*m)) {
      tuple = &u->new_tuple;
      oid = u->relation_oid;
    }
    if (tuple == nullptr) continue;
    absl::StatusOr<const Relation*> relation = cache.Lookup(oid);
    if (!relation.ok()) continue;
    absl::StatusOr<OutboxEvent> event = ExtractOutboxEvent(**relation, *tuple);
    if (event.ok()) Check(event->txid.size() <= 20, "txid is a decimal uint64");
  }
}

void ValuePath(std::string_view bytes) {
  absl::StatusOr<std::string> payload = DecodeByteaHex(bytes);
  if (payload.ok()) Check(payload->size() * 2 + 2 == bytes.size(), "bytea length");
  (void)ParseFlatJsonObject(bytes);
}

}  // namespace
}  // namespace lottery::cdc

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      lottery::cdc::DecodeAndRoundTrip(rest);
      break;
    case 1:
      lottery::cdc::ReplicationPath(rest);
      break;
    case 2:
      lottery::cdc::StreamPath(rest);
      break;
    case 3:
      lottery::cdc::ValuePath(rest);
      break;
  }
  return 0;
}
