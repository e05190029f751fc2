// The whole pipeline: stakes on Kafka -> lottery-writer -> outbox -> lottery-cdc-relay -> awards on
// <prefix>lottery.v1.award, each exactly once for a read_committed consumer, with its headers,
// and each award's proof verifies from the award alone.
#include <signal.h>

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/kafka.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/award.h"
#include "lottery/domain/uuid.h"
#include "lottery/v1/award.pb.h"
#include "relay_test_util.h"

namespace lottery::cdc::testing {
namespace {

using lottery::testing::OutRecord;
using lottery::testing::ProduceAll;
using lottery::testing::ReadAllCommitted;

std::string NewId() { return domain::FormatUuid(domain::NewRandomUuid()); }

TEST(RelayWriterE2eTest, AwardsFromTheWriterArriveExactlyOnceAndVerify) {
  RelayWorld w;
  const std::string prefix = UniqueName("rw") + ".";
  const std::string stake_topic = prefix + "player.v1.staked";
  ASSERT_OK(kafka::CreateTopics(KafkaBootstrap(), {{stake_topic, 3}}));

  auto relay = w.StartRelay("relay");
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30))) << w.Log("relay");
  Process writer(
      {BinaryPath("lottery-writer"), "--pg-dsn", w.db.RoleDsn("lottery_writer"),
       "--kafka-bootstrap", KafkaBootstrap(), "--topic-prefix", prefix, "--stake-topic",
       "player.v1.staked", "--consumer-group", UniqueName("rwg"), "--players-per-lottery", "3",
       "--metrics-addr", "off", "--kafka-prop", "session.timeout.ms=6000"},
      RelayWorld::RoleEnv(), w.LogPath("writer"));

  // Two games, 15 distinct players each: 5 lotteries of 3 per game = 10 awards.
  std::vector<OutRecord> stakes;
  for (int g = 0; g < 2; ++g) {
    std::string game = NewId();
    for (int p = 0; p < 15; ++p) {
      OutRecord r;
      r.topic = stake_topic;
      r.value = R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":")" + NewId() +
                R"(","gameId":")" + game + R"(","stake":"12.50"}})";
      r.headers = {{"uuid", NewId()}};
      r.key = game;
      stakes.push_back(r);
    }
  }
  ProduceAll(stakes);
  const std::string awards_sql = "SELECT count(*) FROM outbox WHERE type = 'lotteryAwardCreated'";
  ASSERT_TRUE(WaitFor([&] { return w.db.Scalar(awards_sql) == "10"; }, std::chrono::seconds(60)))
      << "awards in the outbox: " << w.db.Scalar(awards_sql) << "\n"
      << w.Log("writer");
  ASSERT_TRUE(w.WaitUntilCaughtUp()) << w.Log("relay");
  writer.Kill(SIGTERM);
  writer.Wait(std::chrono::seconds(20));
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(20)), 0) << w.Log("relay");

  // Every outbox row of every topic the writer used, exactly once.
  auto conn = w.db.Connect();
  auto rows = pg::Exec(conn.get(), "SELECT id::text, topic, type FROM outbox");
  ASSERT_OK(rows.status());
  std::map<std::string, std::string> type_by_id;
  std::set<std::string> topics;
  for (int i = 0; i < PQntuples(rows->get()); ++i) {
    type_by_id[std::string(pg::Value(rows->get(), i, 0))] =
        std::string(pg::Value(rows->get(), i, 2));
    topics.insert(std::string(pg::Value(rows->get(), i, 1)));
  }
  EXPECT_THAT(topics, ::testing::Contains(prefix + "lottery.v1.award"));
  auto records = ReadAllCommitted(std::vector<std::string>(topics.begin(), topics.end()));
  std::map<std::string, int> seen;
  int awards = 0;
  for (const auto& r : records) {
    std::string id = r.Header("id").value_or("?");
    ++seen[id];
    ASSERT_TRUE(type_by_id.contains(id)) << "invented event " << id;
    EXPECT_EQ(r.Header("messageType"), type_by_id[id]);
    EXPECT_TRUE(r.Header("content-type").has_value());
    EXPECT_TRUE(r.Header("lsn").has_value());
    if (r.topic == prefix + "lottery.v1.award") {
      ++awards;
      EXPECT_EQ(r.Header("messageType"), "lotteryAwardCreated");
      lottery::v1::AwardCreated award;
      ASSERT_TRUE(award.ParseFromString(r.value)) << "award " << id << " is not an AwardCreated";
      EXPECT_OK(domain::VerifyAward(award)) << "award " << id;
    }
  }
  EXPECT_EQ(awards, 10);
  for (const auto& [id, type] : type_by_id) EXPECT_EQ(seen[id], 1) << type << " " << id;
  EXPECT_EQ(records.size(), type_by_id.size());
}

}  // namespace
}  // namespace lottery::cdc::testing
