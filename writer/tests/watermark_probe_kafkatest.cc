// WatermarkProbe against the real broker: it answers for the partitions it is given, follows
// the high watermark as records arrive, forgets partitions taken from it, and stops promptly.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lottery/common/kafka.h"
#include "lottery/testing/stack.h"
#include "lottery/writer/watermark_probe.h"

namespace lottery::writer {
namespace {

using namespace std::chrono_literals;
using lottery::testing::KafkaBootstrap;
using lottery::testing::UniqueName;
using lottery::testing::WaitFor;

kafka::KafkaPtr Consumer() {
  auto conf =
      kafka::MakeConf({{"bootstrap.servers", KafkaBootstrap()}, {"group.id", UniqueName("probe")}});
  EXPECT_TRUE(conf.ok()) << conf.status();
  auto rk = kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(*conf));
  EXPECT_TRUE(rk.ok()) << rk.status();
  return std::move(*rk);
}

void ProduceTo(const std::string& topic, int partition, int n) {
  std::vector<lottery::testing::OutRecord> records(n);
  for (auto& r : records) r.topic = topic, r.value = "x", r.partition = partition;
  lottery::testing::ProduceAll(records);
}

TEST(WatermarkProbe, FollowsTheHighWatermarksOfTheGivenPartitions) {
  const std::string topic = UniqueName("probe_topic");
  ASSERT_TRUE(kafka::CreateTopics(KafkaBootstrap(), {{topic, 2}}).ok());
  ProduceTo(topic, 0, 3);
  ProduceTo(topic, 1, 5);
  kafka::KafkaPtr rk = Consumer();
  WatermarkProbe probe(rk.get(), absl::Milliseconds(100), 5000);
  EXPECT_TRUE(probe.Latest().empty()) << "asked about nothing yet";

  const TopicPartition p0{topic, 0}, p1{topic, 1};
  probe.SetPartitions({p0, p1});
  ASSERT_TRUE(WaitFor([&] { return probe.Latest().size() == 2; }, 20s));
  auto latest = probe.Latest();
  EXPECT_EQ(latest[p0].high, 3);
  EXPECT_EQ(latest[p1].high, 5);
  EXPECT_EQ(latest[p0].low, 0);
  EXPECT_GT(latest[p0].answer, 0u);

  ProduceTo(topic, 0, 4);
  EXPECT_TRUE(WaitFor([&] { return probe.Latest()[p0].high == 7; }, 20s))
      << "high " << probe.Latest()[p0].high;
  const uint64_t before = probe.Latest()[p0].answer;
  EXPECT_TRUE(WaitFor([&] { return probe.Latest()[p0].answer > before; }, 20s))
      << "a new answer every period, even with nothing new";

  probe.SetPartitions({p1});  // p0 revoked
  latest = probe.Latest();
  EXPECT_EQ(latest.count(p0), 0u);
  EXPECT_EQ(latest.count(p1), 1u);
  EXPECT_TRUE(kafka::DeleteTopics(KafkaBootstrap(), {topic}).ok());
}

TEST(WatermarkProbe, StopsPromptlyAndNeverAnswersForAMissingTopic) {
  kafka::KafkaPtr rk = Consumer();
  const TopicPartition missing{UniqueName("probe_missing"), 0};
  const auto start = std::chrono::steady_clock::now();
  {
    WatermarkProbe probe(rk.get(), absl::Seconds(60), 1000);  // a long period: stop must wake it
    probe.SetPartitions({missing});
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(probe.Latest().count(missing), 0u);
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
}

}  // namespace
}  // namespace lottery::writer
