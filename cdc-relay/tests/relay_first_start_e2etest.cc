// The relay's first start against the real PostgreSQL and Kafka: outbox rows committed before the
// relay ever ran are published exactly once (the initial snapshot), whatever the start order, a
// kill -9 in the middle of the snapshot, or history already on the topic.
#include <signal.h>

#include <atomic>
#include <map>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "relay_test_util.h"

namespace lottery::cdc::testing {
namespace {

using lottery::testing::OutRecord;
using lottery::testing::ProduceAll;
using lottery::testing::ReadAllCommitted;
using lottery::testing::Record;
using ::testing::HasSubstr;

// Inserts `n` outbox rows for `topic` in one transaction.
void InsertMany(PGconn* conn, const std::string& topic, int n) {
  ASSERT_OK(pg::ExecCommand(
      conn,
      "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload, "
      "headers) SELECT gen_random_uuid(), 'award', 'agg-' || (g % 97), 'lotteryAwardCreated', "
      "$1, 'application/json', convert_to('{\"n\":' || g || '}', 'UTF8'), '{}'::jsonb "
      "FROM generate_series(1, $2::int) g",
      {pg::Param::Text(topic), pg::Param::Text(std::to_string(n))}));
}

std::vector<std::string> OutboxIds(const RelayWorld& w) {
  auto conn = w.db.Connect();
  auto res = pg::Exec(conn.get(), "SELECT id::text FROM outbox WHERE topic = $1 ORDER BY seq",
                      {pg::Param::Text(w.topic)});
  std::vector<std::string> ids;
  if (!res.ok()) {
    ADD_FAILURE() << res.status();
    return ids;
  }
  for (int i = 0; i < PQntuples(res->get()); ++i) ids.emplace_back(pg::Value(res->get(), i, 0));
  return ids;
}

// Every outbox row of the world's topic exactly once in Kafka, nothing else.
void ExpectEachRowOnce(const RelayWorld& w) {
  lottery::testing::ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), OutboxIds(w));
}

TEST(RelayFirstStartE2eTest, RowsWrittenBeforeTheFirstStartArePublishedOnce) {
  RelayWorld w;
  auto conn = w.db.Connect();
  InsertMany(conn.get(), w.topic, 500);
  InsertOutbox(conn.get(), w.topic, {"k1", "k2"}, {"{\"a\":1}", "{\"a\":2}"});
  auto relay = w.StartRelay("relay", {"--snapshot-batch", "64"});
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(60))) << w.Log("relay");
  InsertMany(conn.get(), w.topic, 100);  // after the slot: streamed
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(90))) << w.Log("relay");
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(30)), 0) << w.Log("relay");
  EXPECT_THAT(w.Log("relay"), HasSubstr("initial snapshot done: 502 rows published"));
  ExpectEachRowOnce(w);

  // A second start streams from the checkpoint; nothing is published again.
  InsertMany(conn.get(), w.topic, 10);
  auto again = w.StartRelay("again");
  ASSERT_TRUE(
      WaitFor([&] { return ReadAllCommitted({w.topic}).size() >= 612; }, std::chrono::seconds(60)))
      << w.Log("again");
  again->Kill(SIGTERM);
  EXPECT_EQ(again->Wait(std::chrono::seconds(30)), 0) << w.Log("again");
  EXPECT_THAT(w.Log("again"), ::testing::Not(HasSubstr("initial snapshot")));
  ExpectEachRowOnce(w);
}

TEST(RelayFirstStartE2eTest, StartedTogetherWithAWriterUnderLoad) {
  RelayWorld w;
  std::atomic<bool> stop{false};
  std::atomic<int> inserted{0};
  // Many small transactions, before, during and after the relay's first start.
  std::thread writer([&] {
    auto conn = w.db.Connect();
    while (!stop.load()) {
      InsertMany(conn.get(), w.topic, 3);
      inserted += 3;
    }
  });
  WaitFor([&] { return inserted.load() > 300; }, std::chrono::seconds(30));
  auto relay = w.StartRelay("relay", {"--snapshot-batch", "50"});
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(60))) << w.Log("relay");
  std::this_thread::sleep_for(std::chrono::seconds(3));
  stop = true;
  writer.join();
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(90))) << w.Log("relay");
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(30)), 0) << w.Log("relay");
  ExpectEachRowOnce(w);
}

TEST(RelayFirstStartE2eTest, KilledDuringTheSnapshotTheNextStartFinishesIt) {
  RelayWorld w;
  auto conn = w.db.Connect();
  InsertMany(conn.get(), w.topic, 20000);
  // Small Kafka transactions, so the snapshot takes long enough to be killed in the middle.
  auto relay = w.StartRelay("first", {"--snapshot-batch", "20", "--log-level", "debug"});
  // Kill it right after a batch of the snapshot committed: 1000 batches, so it is mid-snapshot.
  ASSERT_TRUE(
      WaitFor([&] { return w.Log("first").find("batch committed up to seq") != std::string::npos; },
              std::chrono::seconds(60)))
      << w.Log("first");
  relay->Kill(SIGKILL);
  relay->Wait(std::chrono::seconds(10));
  ASSERT_THAT(w.Log("first"), ::testing::Not(HasSubstr("initial snapshot done")))
      << "the kill came too late to test an interrupted snapshot";
  InsertMany(conn.get(), w.topic, 50);  // committed after the slot: streamed, not snapshotted

  auto second = w.StartRelay("second", {"--snapshot-batch", "2000"});
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(120))) << w.Log("second");
  second->Kill(SIGTERM);
  EXPECT_EQ(second->Wait(std::chrono::seconds(30)), 0) << w.Log("second");
  EXPECT_THAT(w.Log("second"), HasSubstr("an initial snapshot was interrupted"));
  ExpectEachRowOnce(w);
}

TEST(RelayFirstStartE2eTest, HistoryAlreadyOnTheTopicIsNotPublishedAgain) {
  RelayWorld w;
  auto conn = w.db.Connect();
  std::vector<std::string> ids =
      InsertOutbox(conn.get(), w.topic, {"a", "b", "c", "d"}, {"1", "2", "3", "4"});
  // An earlier deployment already published two of them (e.g. the checkpoint topic was lost).
  ProduceAll({OutRecord{w.topic, "a", "1", {{"id", ids[0]}}},
              OutRecord{w.topic, "b", "2", {{"id", ids[1]}}}});
  auto relay = w.StartRelay("relay");
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("relay");
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(30)), 0) << w.Log("relay");
  EXPECT_THAT(w.Log("relay"), HasSubstr("2 already in Kafka"));
  ExpectEachRowOnce(w);
}

TEST(RelayFirstStartE2eTest, InitialSnapshotNoneSkipsTheBacklogAsAsked) {
  RelayWorld w;
  auto conn = w.db.Connect();
  InsertMany(conn.get(), w.topic, 20);
  auto relay = w.StartRelay("relay", {"--initial-snapshot", "none"});
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(60))) << w.Log("relay");
  auto after = InsertOutbox(conn.get(), w.topic, {"x"}, {"{}"});
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("relay");
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(30)), 0) << w.Log("relay");
  std::vector<Record> records = ReadAllCommitted({w.topic});
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].Header("id"), after[0]);
  EXPECT_THAT(w.Log("relay"), HasSubstr("NOT published"));
}

}  // namespace
}  // namespace lottery::cdc::testing
