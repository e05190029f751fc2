#include "lottery/cdc/outbox_event.h"

#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/cdc/relation_cache.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::cdc {
namespace {

using ::lottery::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

using Row = std::vector<std::pair<std::string, TupleValue>>;

TupleValue T(std::string s) { return {TupleValue::Kind::kText, std::move(s)}; }

Row OutboxRow() {
  return {{"seq", T("42")},
          {"id", T("8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a01")},
          {"aggregatetype", T("lottery")},
          {"aggregateid", T("lot-1")},
          {"type", T("LotteryFinished")},
          {"topic", T("lottery.events")},
          {"content_type", T("application/x-protobuf")},
          {"payload", T("\\x00ff10")},
          {"headers", T(R"({"b": "2", "aa": "1"})")},
          {"txid", T("18446744073709551615")},
          {"created_at", T("2026-11-25 06:18:51.123+00")}};
}

std::pair<Relation, TupleData> Split(const Row& row) {
  Relation r;
  r.oid = 16500;
  r.namespace_name = "public";
  r.relation_name = "outbox";
  TupleData t;
  for (const auto& [name, value] : row) {
    r.columns.push_back(RelationColumn{0, name, 25, -1});
    t.columns.push_back(value);
  }
  return {r, t};
}

absl::StatusOr<OutboxEvent> Extract(const Row& row) {
  auto [r, t] = Split(row);
  return ExtractOutboxEvent(r, t);
}

Row With(Row row, const std::string& name, TupleValue v) {
  for (auto& [n, value] : row) {
    if (n == name) value = std::move(v);
  }
  return row;
}

Row Without(Row row, const std::string& name) {
  std::erase_if(row, [&](const auto& c) { return c.first == name; });
  return row;
}

TEST(OutboxEventTest, ExtractsEveryField) {
  auto e = Extract(OutboxRow());
  ASSERT_OK(e);
  EXPECT_EQ(e->seq, 42);
  EXPECT_EQ(e->id, "8b0d6c3e-3f4f-4a57-9a8e-0c4f1f6b2a01");
  EXPECT_EQ(e->aggregatetype, "lottery");
  EXPECT_EQ(e->aggregateid, "lot-1");
  EXPECT_EQ(e->type, "LotteryFinished");
  EXPECT_EQ(e->topic, "lottery.events");
  EXPECT_EQ(e->content_type, "application/x-protobuf");
  EXPECT_EQ(e->payload, std::string("\x00\xff\x10", 3));
  EXPECT_THAT(e->headers, ElementsAre(Pair("b", "2"), Pair("aa", "1")));
  EXPECT_EQ(e->txid, "18446744073709551615");
}

TEST(OutboxEventTest, ColumnsAreFoundByNameInAnyOrderWithExtras) {
  Row row = OutboxRow();
  std::reverse(row.begin(), row.end());
  row.insert(row.begin() + 3, {"trace_id", TupleValue{TupleValue::Kind::kNull, ""}});
  auto e = Extract(row);
  ASSERT_OK(e);
  EXPECT_EQ(e->seq, 42);
  EXPECT_EQ(e->topic, "lottery.events");
  // created_at is not needed.
  EXPECT_OK(Extract(Without(OutboxRow(), "created_at")));
}

TEST(OutboxEventTest, MissingRequiredColumnIsFailedPrecondition) {
  for (const char* name : {"seq", "id", "aggregatetype", "aggregateid", "type", "topic",
                           "content_type", "payload", "headers", "txid"}) {
    EXPECT_THAT(Extract(Without(OutboxRow(), name)),
                StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(name)))
        << name;
  }
}

TEST(OutboxEventTest, NullToastOrBinaryInRequiredColumnIsDataLoss) {
  for (TupleValue::Kind kind :
       {TupleValue::Kind::kNull, TupleValue::Kind::kUnchangedToast, TupleValue::Kind::kBinary}) {
    EXPECT_THAT(Extract(With(OutboxRow(), "payload", TupleValue{kind, ""})),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("payload")));
  }
}

TEST(OutboxEventTest, ColumnCountMismatchIsDataLoss) {
  auto [r, t] = Split(OutboxRow());
  t.columns.pop_back();
  EXPECT_THAT(ExtractOutboxEvent(r, t),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("stale relation cache")));
}

TEST(OutboxEventTest, StrictByteaHex) {
  EXPECT_EQ(*DecodeByteaHex("\\x"), "");
  EXPECT_EQ(*DecodeByteaHex("\\xDEadbeef"), "\xde\xad\xbe\xef");
  for (const char* bad :
       {"", "\\", "x00", "\\X00", "\\x0", "\\x0g", "\\x 00", "\\000", "\\x00\n", "abc"}) {
    EXPECT_THAT(DecodeByteaHex(bad), StatusIs(absl::StatusCode::kDataLoss)) << bad;
  }
  EXPECT_THAT(Extract(With(OutboxRow(), "payload", T("\\001\\002"))),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("bytea_output")));
}

TEST(OutboxEventTest, HeadersMustBeAFlatObjectOfStrings) {
  EXPECT_THAT(*ParseFlatJsonObject("{}"), ElementsAre());
  EXPECT_THAT(*ParseFlatJsonObject(R"({"k": "v\"\\\u00e9\n"})"),
              ElementsAre(Pair("k", "v\"\\\xc3\xa9\n")));
  for (const char* bad : {"", "[]", "\"s\"", "null", "{", R"({"a": 1})", R"({"a": null})",
                          R"({"a": {"b": "c"}})", R"({"a": ["x"]})", R"({"a": "b"} x)"}) {
    EXPECT_THAT(ParseFlatJsonObject(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  // A bad headers value is the row's own fault: the event decodes, flagged for dead-lettering.
  auto flagged = Extract(With(OutboxRow(), "headers", T(R"({"n": 1})")));
  ASSERT_OK(flagged);
  EXPECT_THAT(flagged->bad_headers, HasSubstr("not a string"));
  EXPECT_TRUE(flagged->headers.empty());
}

TEST(OutboxEventTest, SeqAndTxidMustBeDecimal) {
  EXPECT_EQ(Extract(With(OutboxRow(), "seq", T("-9223372036854775808")))->seq,
            std::numeric_limits<int64_t>::min());
  for (const char* bad : {"", "-", "+1", " 1", "1 ", "0x10", "9223372036854775808", "1.0"}) {
    EXPECT_THAT(Extract(With(OutboxRow(), "seq", T(bad))),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("seq")))
        << bad;
  }
  for (const char* bad : {"", "-1", "18446744073709551616", "1a"}) {
    EXPECT_THAT(Extract(With(OutboxRow(), "txid", T(bad))),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("txid")))
        << bad;
  }
}

TEST(RelationCacheTest, UnknownOidIsDataLoss) {
  RelationCache cache;
  EXPECT_THAT(cache.Lookup(1), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("OID 1")));
}

TEST(RelationCacheTest, ObservesRelationsAndFollowsNewerSchema) {
  RelationCache cache;
  Relation v1;
  v1.oid = 10;
  v1.relation_name = "outbox";
  v1.columns = {RelationColumn{1, "seq", 20, -1}};
  cache.Observe(PgOutputMessage(v1));
  cache.Observe(PgOutputMessage(Begin{}));
  ASSERT_EQ(cache.size(), 1u);
  EXPECT_EQ((*cache.Lookup(10))->columns.size(), 1u);

  Relation v2 = v1;
  v2.columns.push_back(RelationColumn{0, "trace_id", 25, -1});
  cache.Observe(PgOutputMessage(v2));
  ASSERT_EQ(cache.size(), 1u);
  EXPECT_EQ((*cache.Lookup(10))->columns.size(), 2u);
  EXPECT_EQ((*cache.Lookup(10))->columns[1].name, "trace_id");

  cache.Clear();
  EXPECT_FALSE(cache.Contains(10));
  EXPECT_THAT(cache.Lookup(10), StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace lottery::cdc
