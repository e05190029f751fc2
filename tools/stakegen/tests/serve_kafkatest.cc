// `lottery-stakegen serve` in-process on a free port: POST /stake publishes the requested batch
// (the records on the topic match the answer), a bad body is a 400 with a JSON error.
#include <httplib.h>

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/testing/stack.h"
#include "serve.h"
#include "stake_check.h"

namespace lottery::stakegen {
namespace {

namespace lt = ::lottery::testing;
using ::testing::HasSubstr;

TEST(StakegenServe, PostStakePublishesTheBatch) {
  const std::string topic = lt::UniqueName("stakes_http");
  ASSERT_OK(kafka::CreateTopics(lt::KafkaBootstrap(), {{topic, 2}}));
  auto pub = Publisher::Create({lt::KafkaBootstrap(), topic, {}});
  ASSERT_OK(pub);
  Options base;
  base.seed = 3;
  auto server =
      StakeServer::Start("127.0.0.1:0", pub->get(), base, /*default_count=*/7, /*rate=*/0);
  ASSERT_OK(server);
  ASSERT_GT((*server)->port(), 0);
  httplib::Client client("127.0.0.1", (*server)->port());

  auto res = client.Post("/stake", R"({"count":25,"games":2,"players":5})", "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(res->body,
              HasSubstr(R"("sent":25,"valid":25,"duplicates":0,"malformed":0,"failed":0)"));

  res = client.Post("/stake", "", "application/json");  // empty body: the defaults
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_THAT(res->body, HasSubstr(R"("sent":7,)"));

  res = client.Post("/stake", R"({"count":"lots"})", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr(R"({"error":"count must be an integer)"));
  res = client.Post("/stake", "not json", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);

  res = client.Get("/healthz");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);

  auto records = lt::ReadAllCommitted({topic});
  ASSERT_EQ(records.size(), 32u) << "25 + 7 published, nothing for the bad bodies";
  std::set<std::string> ids, games_all;
  for (const auto& r : records) {
    ASSERT_TRUE(r.Header("uuid").has_value());
    ids.insert(*r.Header("uuid"));
    auto s = stakegen::testing::CheckStake(r.value, std::nullopt);
    ASSERT_OK(s);
    games_all.insert(s->game_id);
  }
  EXPECT_EQ(ids.size(), 32u);
  // Both batches draw from seed 3's pools (the 2-game pool is a prefix of the 10-game one).
  auto pool = GamePool(3, 10);
  for (const auto& g : games_all) EXPECT_TRUE(std::count(pool.begin(), pool.end(), g)) << g;
  (*server)->Stop();
  EXPECT_OK(kafka::DeleteTopics(lt::KafkaBootstrap(), {topic}));
}

TEST(StakegenServe, BatchRespectsRequestedPools) {
  const std::string topic = lt::UniqueName("stakes_http_pool");
  auto pub = Publisher::Create({lt::KafkaBootstrap(), topic, {}});
  ASSERT_OK(pub);
  Options base;
  base.seed = 4;
  auto server = StakeServer::Start("127.0.0.1:0", pub->get(), base, 10, 0);
  ASSERT_OK(server);
  httplib::Client client("127.0.0.1", (*server)->port());
  auto res = client.Post("/stake", R"({"count":60,"games":2,"players":5})", "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  auto records = lt::ReadAllCommitted({topic});
  ASSERT_EQ(records.size(), 60u);
  std::set<std::string> games, players;
  for (const auto& r : records) {
    auto s = stakegen::testing::CheckStake(r.value, std::nullopt);
    ASSERT_OK(s);
    games.insert(s->game_id);
    players.insert(s->player_id);
  }
  EXPECT_EQ(games.size(), 2u);
  EXPECT_EQ(players.size(), 5u);
  EXPECT_OK(kafka::DeleteTopics(lt::KafkaBootstrap(), {topic}));
}

}  // namespace
}  // namespace lottery::stakegen
