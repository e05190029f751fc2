// Hand-made bytes for each pgoutput message, laid out as PostgreSQL 15's proto.c writes them.
// golden_test.cc checks the same decoder against bytes captured from a real server.
#include "lottery/cdc/pgoutput.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "test_util.h"

namespace lottery::cdc {
namespace {

using ::lottery::cdc::testing::Wire;
using ::lottery::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

template <typename T>
T DecodeAs(const std::string& bytes) {
  auto decoded = DecodePgOutput(bytes);
  EXPECT_OK(decoded);
  if (!decoded.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*decoded)) << MessageTypeName(*decoded);
  if (!std::holds_alternative<T>(*decoded)) return T{};
  return std::get<T>(*std::move(decoded));
}

TupleValue TextValue(std::string s) { return {TupleValue::Kind::kText, std::move(s)}; }
TupleValue NullValue() { return {TupleValue::Kind::kNull, ""}; }

TEST(PgOutputTest, Begin) {
  auto m = DecodeAs<Begin>(Wire().U8('B').U64(0x1ABCDEF0).I64(-42).U32(0xfffffff0).str());
  EXPECT_EQ(m.final_lsn, 0x1ABCDEF0u);
  EXPECT_EQ(m.commit_time, -42);
  EXPECT_EQ(m.xid, 0xfffffff0u);
}

TEST(PgOutputTest, Commit) {
  auto m = DecodeAs<Commit>(Wire().U8('C').U8(0).U64(10).U64(20).I64(30).str());
  EXPECT_EQ(m.flags, 0);
  EXPECT_EQ(m.commit_lsn, 10u);
  EXPECT_EQ(m.end_lsn, 20u);
  EXPECT_EQ(m.commit_time, 30);
}

TEST(PgOutputTest, Origin) {
  auto m = DecodeAs<Origin>(Wire().U8('O').U64(99).Str("node_a").str());
  EXPECT_EQ(m.commit_lsn, 99u);
  EXPECT_EQ(m.name, "node_a");
}

TEST(PgOutputTest, Relation) {
  auto m = DecodeAs<Relation>(Wire()
                                  .U8('R')
                                  .U32(16384)
                                  .Str("public")
                                  .Str("outbox")
                                  .U8('d')
                                  .I16(2)
                                  .U8(1)
                                  .Str("seq")
                                  .U32(20)
                                  .I32(-1)
                                  .U8(0)
                                  .Str("topic")
                                  .U32(1043)
                                  .I32(68)
                                  .str());
  EXPECT_EQ(m.oid, 16384u);
  EXPECT_EQ(m.namespace_name, "public");
  EXPECT_EQ(m.relation_name, "outbox");
  EXPECT_EQ(m.replica_identity, 'd');
  ASSERT_EQ(m.columns.size(), 2u);
  EXPECT_TRUE(m.columns[0].is_key());
  EXPECT_EQ(m.columns[0].name, "seq");
  EXPECT_EQ(m.columns[0].type_oid, 20u);
  EXPECT_EQ(m.columns[0].type_modifier, -1);
  EXPECT_FALSE(m.columns[1].is_key());
  EXPECT_EQ(m.columns[1].type_modifier, 68);
}

TEST(PgOutputTest, RelationWithNoColumnsAndCatalogNamespace) {
  auto m = DecodeAs<Relation>(Wire().U8('R').U32(1).Str("").Str("t").U8('n').I16(0).str());
  EXPECT_EQ(m.namespace_name, "");
  EXPECT_EQ(m.replica_identity, 'n');
  EXPECT_TRUE(m.columns.empty());
}

TEST(PgOutputTest, Type) {
  auto m = DecodeAs<Type>(Wire().U8('Y').U32(16400).Str("public").Str("mood").str());
  EXPECT_EQ(m.oid, 16400u);
  EXPECT_EQ(m.namespace_name, "public");
  EXPECT_EQ(m.name, "mood");
}

TEST(PgOutputTest, InsertWithEveryColumnKind) {
  auto m = DecodeAs<Insert>(Wire()
                                .U8('I')
                                .U32(16384)
                                .U8('N')
                                .I16(4)
                                .U8('n')
                                .U8('u')
                                .Text("hello")
                                .U8('b')
                                .I32(3)
                                .Bytes(std::string("\x00\x01\x02", 3))
                                .str());
  EXPECT_EQ(m.relation_oid, 16384u);
  EXPECT_THAT(m.new_tuple.columns,
              ElementsAre(NullValue(), TupleValue{TupleValue::Kind::kUnchangedToast, ""},
                          TextValue("hello"),
                          TupleValue{TupleValue::Kind::kBinary, std::string("\x00\x01\x02", 3)}));
}

TEST(PgOutputTest, InsertWithEmptyTextValue) {
  auto m = DecodeAs<Insert>(Wire().U8('I').U32(1).U8('N').I16(1).Text("").str());
  EXPECT_THAT(m.new_tuple.columns, ElementsAre(TextValue("")));
}

TEST(PgOutputTest, UpdateWithoutOldTuple) {
  auto m = DecodeAs<Update>(Wire().U8('U').U32(7).U8('N').I16(1).Text("new").str());
  EXPECT_EQ(m.relation_oid, 7u);
  EXPECT_EQ(m.old_tuple_kind, OldTupleKind::kNone);
  EXPECT_TRUE(m.old_tuple.columns.empty());
  EXPECT_THAT(m.new_tuple.columns, ElementsAre(TextValue("new")));
}

TEST(PgOutputTest, UpdateWithOldKeyAndOldRow) {
  for (char kind : {'K', 'O'}) {
    auto m = DecodeAs<Update>(Wire()
                                  .U8('U')
                                  .U32(7)
                                  .U8(kind)
                                  .I16(2)
                                  .Text("1")
                                  .U8('n')
                                  .U8('N')
                                  .I16(2)
                                  .Text("2")
                                  .Text("x")
                                  .str());
    EXPECT_EQ(m.old_tuple_kind, static_cast<OldTupleKind>(kind));
    EXPECT_THAT(m.old_tuple.columns, ElementsAre(TextValue("1"), NullValue()));
    EXPECT_THAT(m.new_tuple.columns, ElementsAre(TextValue("2"), TextValue("x")));
  }
}

TEST(PgOutputTest, Delete) {
  for (char kind : {'K', 'O'}) {
    auto m = DecodeAs<Delete>(Wire().U8('D').U32(8).U8(kind).I16(1).Text("42").str());
    EXPECT_EQ(m.relation_oid, 8u);
    EXPECT_EQ(m.old_tuple_kind, static_cast<OldTupleKind>(kind));
    EXPECT_THAT(m.old_tuple.columns, ElementsAre(TextValue("42")));
  }
}

TEST(PgOutputTest, Truncate) {
  auto m = DecodeAs<Truncate>(Wire().U8('T').I32(2).U8(3).U32(100).U32(200).str());
  EXPECT_TRUE(m.cascade());
  EXPECT_TRUE(m.restart_identity());
  EXPECT_THAT(m.relation_oids, ElementsAre(100u, 200u));
  auto plain = DecodeAs<Truncate>(Wire().U8('T').I32(1).U8(0).U32(5).str());
  EXPECT_FALSE(plain.cascade());
  EXPECT_FALSE(plain.restart_identity());
}

TEST(PgOutputTest, LogicalMessage) {
  std::string content("\x00\xc0\xff\xee", 4);
  auto m = DecodeAs<LogicalMessage>(
      Wire().U8('M').U8(1).U64(0x55).Str("lottery").I32(4).Bytes(content).str());
  EXPECT_TRUE(m.transactional());
  EXPECT_EQ(m.lsn, 0x55u);
  EXPECT_EQ(m.prefix, "lottery");
  EXPECT_EQ(m.content, content);
}

TEST(PgOutputTest, MessageTypeNames) {
  EXPECT_EQ(MessageTypeName(PgOutputMessage(Begin{})), "Begin");
  EXPECT_EQ(MessageTypeName(PgOutputMessage(LogicalMessage{})), "Message");
  EXPECT_EQ(MessageTypeName(PgOutputMessage(Truncate{})), "Truncate");
}

TEST(PgOutputTest, RejectsEmptyAndUnknownTags) {
  EXPECT_THAT(DecodePgOutput(""), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("empty")));
  // Streaming and two-phase messages exist only in proto_version >= 2.
  for (char tag : {'S', 'E', 'c', 'A', 'b', 'P', 'K', 'r', 'p', 'x', '\0'}) {
    EXPECT_THAT(DecodePgOutput(std::string(1, tag) + std::string(40, '\0')),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unknown tag")))
        << tag;
  }
}

TEST(PgOutputTest, ErrorsNameMessageAndField) {
  EXPECT_THAT(DecodePgOutput(Wire().U8('B').U64(1).I64(2).U8(0).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("pgoutput Begin: xid: need 4")));
  std::string insert =
      Wire().U8('I').U32(1).U8('N').I16(3).Text("a").Text("b").U8('t').I32(9).Bytes("abc").str();
  EXPECT_THAT(DecodePgOutput(insert),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("pgoutput Insert: new_tuple.column[2].data: need 9 bytes, 3 "
                                 "remain")));
  std::string relation =
      Wire().U8('R').U32(1).Str("public").Str("t").U8('d').I16(1).U8(0).Str("c").U32(25).str();
  EXPECT_THAT(DecodePgOutput(relation),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("pgoutput Relation: ncols")));
}

TEST(PgOutputTest, RejectsTrailingBytes) {
  for (const std::string& msg :
       {Wire().U8('B').U64(1).I64(2).U32(3).str(), Wire().U8('C').U8(0).U64(1).U64(2).I64(3).str(),
        Wire().U8('I').U32(1).U8('N').I16(1).U8('n').str(),
        Wire().U8('T').I32(1).U8(0).U32(5).str(),
        Wire().U8('M').U8(0).U64(1).Str("p").I32(0).str()}) {
    ASSERT_OK(DecodePgOutput(msg));
    EXPECT_THAT(DecodePgOutput(msg + "x"),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("1 trailing bytes")));
  }
}

TEST(PgOutputTest, RejectsBadMarkersAndKinds) {
  EXPECT_THAT(DecodePgOutput(Wire().U8('I').U32(1).U8('K').I16(0).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("new_tuple_marker")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('U').U32(1).U8('X').I16(0).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("new_tuple_marker")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('U').U32(1).U8('K').I16(0).U8('K').I16(0).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("new_tuple_marker")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('D').U32(1).U8('N').I16(0).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("old_tuple_marker")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('I').U32(1).U8('N').I16(1).U8('x').str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("column[0].kind: unknown 0x78")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('R').U32(1).Str("").Str("t").U8('z').I16(0).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("replica_identity")));
}

TEST(PgOutputTest, RejectsNegativeAndOversizedCounts) {
  EXPECT_THAT(DecodePgOutput(Wire().U8('I').U32(1).U8('N').I16(-1).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ncols: negative")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('I').U32(1).U8('N').I16(1).U8('t').I32(-1).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("length: negative")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('I').U32(1).U8('N').I16(1).U8('t').I32(0x7fffffff).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("need 2147483647 bytes")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('I').U32(1).U8('N').I16(32767).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("32767 columns")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('R').U32(1).Str("").Str("t").U8('d').I16(-3).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("ncols: negative")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('T').I32(-1).U8(0).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("nrelations: negative")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('T').I32(0x7fffffff).U8(0).U32(1).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("nrelations")));
  EXPECT_THAT(DecodePgOutput(Wire().U8('M').U8(0).U64(1).Str("p").I32(-7).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("content_length: negative")));
}

}  // namespace
}  // namespace lottery::cdc
