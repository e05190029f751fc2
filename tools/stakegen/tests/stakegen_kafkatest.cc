// Publishing to the real broker: what a read_committed consumer sees is exactly what the summary
// claims — the count, no key, a v4 uuid header on every record, valid stakes in the exact JSON
// shape, duplicates as byte-identical re-sends under the same uuid, malformed ones malformed.
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/uuid.h"
#include "lottery/testing/stack.h"
#include "producer.h"
#include "stake_check.h"

namespace lottery::stakegen {
namespace {

namespace lt = ::lottery::testing;

bool IsV4(const std::string& id) {
  return domain::IsCanonicalUuid(id) && id[14] == '4' &&
         std::string("89ab").find(id[19]) != std::string::npos;
}

absl::StatusOr<Summary> PublishTo(const std::string& topic, const Options& o, int64_t count) {
  PublishConfig pc{lt::KafkaBootstrap(), topic, {}};
  auto pub = Publisher::Create(pc);
  if (!pub.ok()) return pub.status();
  Generator gen(o);
  return (*pub)->Publish(gen, count, /*rate=*/0);
}

TEST(StakegenKafka, JsonWithDuplicatesAndMalformedReadsBackAsSummarised) {
  const std::string topic = lt::UniqueName("stakes");
  ASSERT_OK(kafka::CreateTopics(lt::KafkaBootstrap(), {{topic, 3}}));
  Options o;
  o.players = 20;
  o.games = 3;
  o.duplicate_ratio = 0.1;
  o.malformed_ratio = 0.1;
  o.seed = 5;
  auto s = PublishTo(topic, o, 400);
  ASSERT_OK(s);
  EXPECT_EQ(s->sent, 400);
  EXPECT_EQ(s->failed, 0);
  EXPECT_EQ(s->valid + s->duplicates + s->malformed, 400);
  EXPECT_GT(s->duplicates, 10);
  EXPECT_GT(s->malformed, 10);

  auto records = lt::ReadAllCommitted({topic});
  ASSERT_EQ(records.size(), 400u);
  std::map<std::string, std::string> first_value;  // uuid -> value of its first valid record
  int64_t valid = 0, duplicates = 0, malformed = 0;
  std::set<int> partitions;
  for (const auto& r : records) {
    partitions.insert(r.partition);
    EXPECT_FALSE(r.key.has_value()) << "the game service sends no key";
    ASSERT_EQ(r.headers.size(), 1u) << "JSON stakes carry only the uuid header";
    auto id = r.Header("uuid");
    ASSERT_TRUE(id.has_value());
    ASSERT_TRUE(IsV4(*id)) << *id;
    auto checked = stakegen::testing::CheckStake(r.value, std::nullopt);
    if (!checked.ok()) {
      ++malformed;
      continue;
    }
    EXPECT_EQ(r.value, R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":")" +
                           checked->player_id + R"(","gameId":")" + checked->game_id +
                           R"(","stake":")" + checked->stake + R"("}})");
    auto [it, inserted] = first_value.emplace(*id, r.value);
    if (inserted) {
      ++valid;
    } else {
      ++duplicates;
      EXPECT_EQ(it->second, r.value) << "a duplicate re-sends the same bytes";
    }
  }
  // Partitions interleave, so a duplicate may be read before its original: counts still match.
  EXPECT_EQ(valid, s->valid);
  EXPECT_EQ(duplicates, s->duplicates);
  EXPECT_EQ(malformed, s->malformed);
  EXPECT_GT(partitions.size(), 1u) << "no key: stakes spread over partitions";
  EXPECT_OK(kafka::DeleteTopics(lt::KafkaBootstrap(), {topic}));
}

TEST(StakegenKafka, ProtobufFormat) {
  const std::string topic = lt::UniqueName("stakes_pb");
  Options o;
  o.format = Format::kProtobuf;
  o.seed = 11;
  auto s = PublishTo(topic, o, 50);
  ASSERT_OK(s);
  EXPECT_EQ(s->sent, 50);
  auto records = lt::ReadAllCommitted({topic});
  ASSERT_EQ(records.size(), 50u);
  for (const auto& r : records) {
    EXPECT_EQ(r.Header("content-type"),
              "application/x-protobuf; messageType=lottery.v1.StakeCreated");
    EXPECT_OK(stakegen::testing::CheckStake(r.value, r.Header("content-type")));
  }
  EXPECT_THAT(s->ToJson(), ::testing::HasSubstr(R"("format":"protobuf","sent":50)"));
  EXPECT_OK(kafka::DeleteTopics(lt::KafkaBootstrap(), {topic}));
}

}  // namespace
}  // namespace lottery::stakegen
