// Decodes bytes captured from a real PostgreSQL 15 by capture_golden.sh (tests/golden/*.hex).
// LSNs, xids, OIDs and timestamps vary between captures, so the tests check what the capture
// script fixed (values, order, kinds) and the invariants between messages.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/cdc/outbox_event.h"
#include "lottery/cdc/pgoutput.h"
#include "lottery/cdc/relation_cache.h"
#include "lottery/cdc/replication_messages.h"
#include "lottery/common/testing/status_matchers.h"
#include "test_util.h"

namespace lottery::cdc {
namespace {

using ::lottery::cdc::testing::GoldenNames;
using ::lottery::cdc::testing::LoadGolden;
using ::lottery::cdc::testing::Wire;
using ::lottery::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

std::vector<PgOutputMessage> DecodeAll(const std::string& name) {
  std::vector<PgOutputMessage> out;
  for (const std::string& bytes : LoadGolden(name)) {
    auto m = DecodePgOutput(bytes);
    EXPECT_OK(m) << name;
    if (m.ok()) out.push_back(*std::move(m));
  }
  return out;
}

std::string Tags(const std::vector<PgOutputMessage>& messages) {
  std::string out;
  for (const auto& m : messages) {
    if (!out.empty()) out += ' ';
    out += std::string(MessageTypeName(m));
  }
  return out;
}

template <typename T>
const T& As(const PgOutputMessage& m) {
  EXPECT_TRUE(std::holds_alternative<T>(m)) << MessageTypeName(m);
  return std::get<T>(m);
}

TupleValue Text(std::string s) { return {TupleValue::Kind::kText, std::move(s)}; }
TupleValue Null() { return {TupleValue::Kind::kNull, ""}; }

// Feeds a whole capture through a RelationCache and returns the outbox events of its Inserts.
std::vector<OutboxEvent> OutboxEvents(const std::vector<PgOutputMessage>& messages) {
  RelationCache cache;
  std::vector<OutboxEvent> out;
  for (const auto& m : messages) {
    cache.Observe(m);
    if (const auto* insert = std::get_if<Insert>(&m)) {
      auto relation = cache.Lookup(insert->relation_oid);
      EXPECT_OK(relation);
      if (!relation.ok() || (*relation)->relation_name != "outbox") continue;
      auto event = ExtractOutboxEvent(**relation, insert->new_tuple);
      EXPECT_OK(event);
      if (event.ok()) out.push_back(*std::move(event));
    }
  }
  return out;
}

// Begin and Commit of each transaction agree; the xid of a Begin is the low half of txid.
void ExpectWellFormedTransactions(const std::vector<PgOutputMessage>& messages) {
  const Begin* open = nullptr;
  for (const auto& m : messages) {
    if (const auto* b = std::get_if<Begin>(&m)) {
      EXPECT_EQ(open, nullptr) << "nested Begin";
      open = b;
      EXPECT_NE(b->final_lsn, 0u);
      EXPECT_GT(b->commit_time, 0);
    } else if (const auto* c = std::get_if<Commit>(&m)) {
      ASSERT_NE(open, nullptr) << "Commit without Begin";
      EXPECT_EQ(c->flags, 0);
      EXPECT_EQ(c->commit_lsn, open->final_lsn);
      EXPECT_GT(c->end_lsn, c->commit_lsn);
      EXPECT_EQ(c->commit_time, open->commit_time);
      open = nullptr;
    }
  }
  EXPECT_EQ(open, nullptr) << "unterminated transaction";
}

TEST(GoldenTest, EveryCaptureDecodesAndIsWellFormed) {
  std::vector<std::string> names = GoldenNames();
  EXPECT_THAT(names,
              ElementsAre("audit_changes", "audit_changes_binary", "logical_message", "origin",
                          "outbox_alter", "outbox_insert_multi", "outbox_insert_single"));
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    ExpectWellFormedTransactions(DecodeAll(name));
  }
}

const std::vector<std::string> kOutboxColumns = {"seq",     "id",    "aggregatetype", "aggregateid",
                                                 "type",    "topic", "content_type",  "payload",
                                                 "headers", "txid",  "created_at"};

std::vector<std::string> ColumnNames(const Relation& r) {
  std::vector<std::string> out;
  for (const auto& c : r.columns) out.push_back(c.name);
  return out;
}

TEST(GoldenTest, OutboxInsertSingle) {
  auto messages = DecodeAll("outbox_insert_single");
  ASSERT_EQ(Tags(messages), "Begin Relation Insert Commit");
  const auto& relation = As<Relation>(messages[1]);
  EXPECT_EQ(relation.namespace_name, "public");
  EXPECT_EQ(relation.relation_name, "outbox");
  EXPECT_EQ(relation.replica_identity, 'd');
  EXPECT_EQ(ColumnNames(relation), kOutboxColumns);
  EXPECT_TRUE(relation.columns[0].is_key());  // seq is the primary key
  EXPECT_FALSE(relation.columns[1].is_key());
  EXPECT_EQ(relation.columns[0].type_oid, 20u);    // int8
  EXPECT_EQ(relation.columns[7].type_oid, 17u);    // bytea
  EXPECT_EQ(relation.columns[8].type_oid, 3802u);  // jsonb
  EXPECT_EQ(relation.columns[9].type_oid, 5069u);  // xid8
  EXPECT_EQ(As<Insert>(messages[2]).relation_oid, relation.oid);

  // What the relay sees in the text format.
  const TupleData& row = As<Insert>(messages[2]).new_tuple;
  EXPECT_EQ(row.columns[7], Text("\\x00ff10deadbeef7f80"));
  EXPECT_EQ(row.columns[8].data,
            R"({"quote\"d": "tab\tnew\nline é", "x-source": "writer", )"
            R"("traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})");

  std::vector<OutboxEvent> events = OutboxEvents(messages);
  ASSERT_EQ(events.size(), 1u);
  const OutboxEvent& e = events[0];
  EXPECT_EQ(e.seq, 1);
  EXPECT_EQ(e.id, "8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a01");
  EXPECT_EQ(e.aggregatetype, "lottery");
  EXPECT_EQ(e.aggregateid, "lot-1");
  EXPECT_EQ(e.type, "LotteryFinished");
  EXPECT_EQ(e.topic, "lottery.events");
  EXPECT_EQ(e.content_type, "application/x-protobuf");
  EXPECT_EQ(e.payload, std::string("\x00\xff\x10\xde\xad\xbe\xef\x7f\x80", 9));
  EXPECT_THAT(
      e.headers,
      ElementsAre(Pair("quote\"d", "tab\tnew\nline \xc3\xa9"), Pair("x-source", "writer"),
                  Pair("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")));
  // jsonb prints keys shortest first, then bytewise.
  // xid8 of a fresh cluster (epoch 0) equals the 32-bit xid of the Begin.
  EXPECT_EQ(e.txid, std::to_string(As<Begin>(messages[0]).xid));
}

TEST(GoldenTest, OutboxInsertMulti) {
  auto messages = DecodeAll("outbox_insert_multi");
  ASSERT_EQ(Tags(messages), "Begin Relation Insert Insert Insert Commit");
  std::vector<OutboxEvent> events = OutboxEvents(messages);
  ASSERT_EQ(events.size(), 3u);
  std::string txid = std::to_string(As<Begin>(messages[0]).xid);
  EXPECT_EQ(events[0].seq, 2);
  EXPECT_EQ(events[0].id, "8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a02");
  EXPECT_EQ(events[0].aggregatetype, "lottery");
  EXPECT_EQ(events[0].aggregateid, "lot-2");
  EXPECT_EQ(events[0].type, "LotteryStarted");
  EXPECT_EQ(events[0].topic, "lottery.events");
  EXPECT_EQ(events[0].content_type, "application/json");
  EXPECT_EQ(events[0].payload, R"({"n":1})");
  EXPECT_TRUE(events[0].headers.empty());  // DEFAULT '{}'
  EXPECT_EQ(events[1].seq, 3);
  EXPECT_EQ(events[1].id, "8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a03");
  EXPECT_EQ(events[1].aggregatetype, "award");
  EXPECT_EQ(events[1].aggregateid, "aw-1");
  EXPECT_EQ(events[1].type, "AwardGranted");
  EXPECT_EQ(events[1].topic, "award.events");
  EXPECT_EQ(events[1].payload, "");
  EXPECT_EQ(events[2].seq, 4);
  EXPECT_EQ(events[2].aggregateid, "aw-2");
  EXPECT_EQ(events[2].content_type, "application/octet-stream");
  EXPECT_EQ(events[2].payload, std::string(3000, '\xab'));
  for (const OutboxEvent& e : events) EXPECT_EQ(e.txid, txid);  // one transaction
}

TEST(GoldenTest, AuditChanges) {
  auto messages = DecodeAll("audit_changes");
  ASSERT_EQ(Tags(messages),
            "Begin Type Relation Insert Insert Commit "
            "Begin Update Commit "
            "Begin Update Commit "
            "Begin Relation Insert Insert Commit "
            "Begin Update Commit "
            "Begin Delete Commit "
            "Begin Delete Commit "
            "Begin Type Relation Relation Truncate Commit "
            "Begin Relation Truncate Commit");
  const auto& type = As<Type>(messages[1]);
  EXPECT_EQ(type.namespace_name, "public");
  EXPECT_EQ(type.name, "golden_mood");
  const auto& audit = As<Relation>(messages[2]);
  EXPECT_EQ(audit.relation_name, "golden_audit");
  EXPECT_EQ(ColumnNames(audit), (std::vector<std::string>{"id", "note", "mood", "big", "raw"}));
  EXPECT_EQ(audit.columns[2].type_oid, type.oid);
  const auto& full = As<Relation>(messages[13]);
  EXPECT_EQ(full.relation_name, "golden_full");
  EXPECT_EQ(full.replica_identity, 'f');
  EXPECT_TRUE(full.columns[0].is_key());  // FULL: every column is part of the identity
  EXPECT_TRUE(full.columns[1].is_key());

  const auto& row1 = As<Insert>(messages[3]).new_tuple;
  ASSERT_EQ(row1.columns.size(), 5u);
  EXPECT_EQ(row1.columns[0], Text("1"));
  EXPECT_EQ(row1.columns[2], Text("calm"));
  EXPECT_EQ(row1.columns[3].data.size(), 200u * 32);
  EXPECT_EQ(row1.columns[4], Text("\\x0102"));
  EXPECT_THAT(As<Insert>(messages[4]).new_tuple.columns,
              ElementsAre(Text("2"), Null(), Text("busy"), Text("small"), Null()));

  // UPDATE note: the TOASTed column is not re-sent.
  const auto& toast = As<Update>(messages[7]);
  EXPECT_EQ(toast.old_tuple_kind, OldTupleKind::kNone);
  EXPECT_THAT(toast.new_tuple.columns,
              ElementsAre(Text("1"), Text("changed"), Text("calm"),
                          TupleValue{TupleValue::Kind::kUnchangedToast, ""}, Text("\\x0102")));
  // UPDATE of the key: old key only.
  const auto& key = As<Update>(messages[10]);
  EXPECT_EQ(key.old_tuple_kind, OldTupleKind::kKey);
  EXPECT_THAT(key.old_tuple.columns, ElementsAre(Text("2"), Null(), Null(), Null(), Null()));
  EXPECT_THAT(key.new_tuple.columns,
              ElementsAre(Text("3"), Null(), Text("busy"), Text("small"), Null()));
  // REPLICA IDENTITY FULL: whole old row.
  const auto& old_row = As<Update>(messages[18]);
  EXPECT_EQ(old_row.old_tuple_kind, OldTupleKind::kFull);
  EXPECT_THAT(old_row.old_tuple.columns, ElementsAre(Text("1"), Text("one")));
  EXPECT_THAT(old_row.new_tuple.columns, ElementsAre(Text("1"), Text("uno")));

  const auto& del_key = As<Delete>(messages[21]);
  EXPECT_EQ(del_key.relation_oid, audit.oid);
  EXPECT_EQ(del_key.old_tuple_kind, OldTupleKind::kKey);
  EXPECT_THAT(del_key.old_tuple.columns, ElementsAre(Text("3"), Null(), Null(), Null(), Null()));
  const auto& del_full = As<Delete>(messages[24]);
  EXPECT_EQ(del_full.relation_oid, full.oid);
  EXPECT_EQ(del_full.old_tuple_kind, OldTupleKind::kFull);
  EXPECT_THAT(del_full.old_tuple.columns, ElementsAre(Text("2"), Text("two")));

  const auto& both = As<Truncate>(messages[30]);
  EXPECT_TRUE(both.cascade());
  EXPECT_TRUE(both.restart_identity());
  EXPECT_THAT(both.relation_oids, ::testing::UnorderedElementsAre(audit.oid, full.oid));
  const auto& one = As<Truncate>(messages[34]);
  EXPECT_EQ(one.options, 0);
  EXPECT_THAT(one.relation_oids, ElementsAre(full.oid));
}

TEST(GoldenTest, AuditChangesBinary) {
  auto messages = DecodeAll("audit_changes_binary");
  const auto& insert = As<Insert>(messages[4]);
  // int4 2 in its binary send format; nulls stay nulls.
  EXPECT_EQ(insert.new_tuple.columns[0],
            (TupleValue{TupleValue::Kind::kBinary, std::string("\0\0\0\2", 4)}));
  EXPECT_EQ(insert.new_tuple.columns[1], Null());
  EXPECT_EQ(insert.new_tuple.columns[3], (TupleValue{TupleValue::Kind::kBinary, "small"}));
  // Same messages as the text capture, other than the column encoding.
  EXPECT_EQ(Tags(messages), Tags(DecodeAll("audit_changes")));
}

TEST(GoldenTest, LogicalMessages) {
  auto messages = DecodeAll("logical_message");
  ASSERT_EQ(Tags(messages), "Begin Message Relation Insert Commit Message");
  const auto& tx = As<LogicalMessage>(messages[1]);
  EXPECT_TRUE(tx.transactional());
  EXPECT_EQ(tx.prefix, "lottery.tx");
  EXPECT_EQ(tx.content, "in a transaction");
  EXPECT_LT(tx.lsn, As<Begin>(messages[0]).final_lsn);
  const auto& nontx = As<LogicalMessage>(messages[5]);
  EXPECT_FALSE(nontx.transactional());
  EXPECT_EQ(nontx.prefix, "lottery.nontx");
  EXPECT_EQ(nontx.content, std::string("\x00\xc0\xff\xee", 4));
  EXPECT_GE(nontx.lsn, As<Commit>(messages[4]).end_lsn);  // after the transaction
}

TEST(GoldenTest, Origin) {
  auto messages = DecodeAll("origin");
  ASSERT_EQ(Tags(messages), "Begin Origin Relation Insert Commit");
  const auto& origin = As<Origin>(messages[1]);
  EXPECT_EQ(origin.name, "golden_origin");
  EXPECT_EQ(FormatLsn(origin.commit_lsn), "1/ABCDEF0");
}

// A new Relation for the same OID mid-stream changes how later tuples decode: the row inserted
// after ALTER TABLE outbox ADD COLUMN has 12 columns, and only the new schema fits it.
TEST(GoldenTest, NewRelationMidStreamChangesDecoding) {
  auto messages = DecodeAll("outbox_alter");
  ASSERT_EQ(Tags(messages), "Begin Relation Insert Commit Begin Relation Insert Commit");
  const auto& before = As<Relation>(messages[1]);
  const auto& after = As<Relation>(messages[5]);
  EXPECT_EQ(before.oid, after.oid);
  EXPECT_EQ(ColumnNames(before), kOutboxColumns);
  std::vector<std::string> with_trace = kOutboxColumns;
  with_trace.push_back("trace_id");
  EXPECT_EQ(ColumnNames(after), with_trace);

  const TupleData& new_row = As<Insert>(messages[6]).new_tuple;
  ASSERT_EQ(new_row.columns.size(), 12u);
  EXPECT_EQ(new_row.columns[11], Text("trace-6"));
  // With the stale schema, the new row is refused rather than misread.
  EXPECT_THAT(ExtractOutboxEvent(before, new_row),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("stale relation cache")));

  std::vector<OutboxEvent> events = OutboxEvents(messages);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].type, "Before");
  EXPECT_EQ(events[0].payload, "before");
  EXPECT_THAT(events[0].headers, ElementsAre(Pair("k", "v")));
  EXPECT_EQ(events[1].id, "8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a06");
  EXPECT_EQ(events[1].type, "After");
  EXPECT_EQ(events[1].payload, "after");
  EXPECT_EQ(events[1].seq, events[0].seq + 1);
}

TEST(GoldenTest, UnknownRelationInStreamIsAnError) {
  auto messages = DecodeAll("outbox_insert_single");
  RelationCache cache;  // never shown the Relation message
  EXPECT_THAT(cache.Lookup(As<Insert>(messages[2]).relation_oid),
              StatusIs(absl::StatusCode::kDataLoss));
}

// Every strict prefix of every captured message fails with kDataLoss; so does one extra byte.
TEST(GoldenTest, EveryTruncatedPrefixFailsCleanly) {
  size_t checked = 0;
  for (const std::string& name : GoldenNames()) {
    for (const std::string& bytes : LoadGolden(name)) {
      ASSERT_OK(DecodePgOutput(bytes)) << name;
      for (size_t n = 0; n < bytes.size(); ++n) {
        auto m = DecodePgOutput(std::string_view(bytes).substr(0, n));
        ASSERT_THAT(m, StatusIs(absl::StatusCode::kDataLoss)) << name << " prefix " << n;
        ++checked;
      }
      EXPECT_THAT(DecodePgOutput(bytes + '\0'),
                  StatusIs(absl::StatusCode::kDataLoss, HasSubstr("trailing")));
    }
  }
  EXPECT_GT(checked, 10000u);
}

// The same bytes inside the replication framing, as the relay receives them.
TEST(GoldenTest, DecodesThroughXLogData) {
  for (const std::string& bytes : LoadGolden("outbox_insert_single")) {
    std::string frame = Wire().U8('w').U64(0x10).U64(0x20).I64(1).Bytes(bytes).str();
    auto r = DecodeReplicationMessage(frame);
    ASSERT_OK(r);
    EXPECT_EQ(std::get<XLogData>(*r).data, bytes);
    EXPECT_OK(DecodePgOutput(std::get<XLogData>(*r).data));
  }
}

}  // namespace
}  // namespace lottery::cdc
