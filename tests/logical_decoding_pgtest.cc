// Logical decoding works on the stack: with the publication and a pgoutput slot, an outbox insert
// is seen through pg_logical_slot_peek_binary_changes, and a table outside the publication is not.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/testing/stack.h"

namespace lottery {
namespace {

TEST(LogicalDecodingTest, OutboxInsertIsDecodedThroughPgoutput) {
  testing::TestDatabase db("ld");
  auto conn = db.Connect();
  const std::string slot = testing::UniqueName("ld_slot");
  ASSERT_OK(pg::ExecCommand(conn.get(), "SELECT pg_create_logical_replication_slot($1, 'pgoutput')",
                            {pg::Param::Text(slot)}));
  ASSERT_OK(pg::ExecCommand(
      conn.get(),
      "INSERT INTO rejected_stake (raw, reason, source_topic, source_partition, source_offset) "
      "VALUES ('x', 'not published', 't', 0, 0)"));
  ASSERT_OK(pg::ExecCommand(
      conn.get(),
      "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload) "
      "VALUES "
      "('6f1c2a8e-8d7b-4c1e-9b0a-1f2e3d4c5b6a', 'lottery', 'agg-key-1', 'lotteryAwardCreated', "
      "'lottery.v1.award', 'application/x-protobuf', '\\x0102ff')"));
  auto res = pg::Exec(conn.get(),
                      "SELECT data FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL, "
                      "'proto_version', '1', 'publication_names', 'lottery_outbox')",
                      {pg::Param::Text(slot)});
  ASSERT_OK(res);
  std::string all;
  std::vector<char> tags;
  for (int i = 0; i < PQntuples(res->get()); ++i) {
    auto bytes = pg::DecodeByteaHex(pg::Value(res->get(), i, 0));
    ASSERT_OK(bytes);
    tags.push_back((*bytes)[0]);
    all += *bytes;
  }
  // PostgreSQL 15 skips transactions that touch no published table (the rejected_stake insert
  // sends nothing at all); the outbox one carries Relation + Insert with the row in text form.
  EXPECT_THAT(tags, ::testing::ElementsAre('B', 'R', 'I', 'C'));
  EXPECT_THAT(all, ::testing::HasSubstr("outbox"));
  EXPECT_THAT(all, ::testing::HasSubstr("agg-key-1"));
  EXPECT_THAT(all, ::testing::HasSubstr("\\x0102ff"));
  EXPECT_THAT(all, ::testing::Not(::testing::HasSubstr("not published")));
}

}  // namespace
}  // namespace lottery
