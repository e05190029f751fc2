// lottery-watch against the real broker: a valid award (binary and JSON mapping) is shown as
// verified, a tampered one as FAILED with the first mismatching field, and --strict makes the
// binary exit 1 because of it.
#include <fstream>
#include <sstream>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/award.h"
#include "lottery/testing/stack.h"
#include "watch.h"

namespace lottery::watch {
namespace {

namespace lt = ::lottery::testing;
using ::testing::HasSubstr;

lottery::v1::AwardCreated ValidAward() {
  using namespace lottery::domain;
  std::vector<Entry> entries;
  for (int i = 0; i < 5; ++i) entries.push_back(Entry{NewRandomUuid(), 100 * (i + 1)});
  auto participants = ParticipantsFromEntries(DrawMode::kUniform, entries);
  EXPECT_OK(participants);
  auto seed = GenerateSeed();
  EXPECT_OK(seed);
  auto award = DrawAward(NewRandomUuid(), NewRandomUuid(), NewRandomUuid(), *seed,
                         DrawMode::kUniform, *participants, PrizePolicy::kPot, 3300, absl::Now());
  EXPECT_OK(award);
  return *award;
}

lt::OutRecord AwardRecord(const std::string& topic, const lottery::v1::AwardCreated& a, bool json) {
  lt::OutRecord r{topic, a.player_id(), "", {}};
  std::string id = lottery::domain::FormatUuid(lottery::domain::NewRandomUuid());
  if (json) {
    EXPECT_TRUE(google::protobuf::util::MessageToJsonString(a, &r.value).ok());
  } else {
    r.value = a.SerializeAsString();
  }
  r.headers = {
      {"id", id},
      {"messageType", "lotteryAwardCreated"},
      {"content-type", json ? "application/json; messageType=lottery.v1.AwardCreated"
                            : "application/x-protobuf; messageType=lottery.v1.AwardCreated"}};
  return r;
}

TEST(WatchKafka, VerifiesValidAwardsAndFlagsTheTamperedOne) {
  const std::string topic = lt::UniqueName("awards");
  auto valid = ValidAward(), as_json = ValidAward(), tampered = ValidAward();
  tampered.set_win_sum_minor(tampered.win_sum_minor() + 1);
  tampered.set_win_sum("999999.99");
  // One partition, so the watcher meets the records in this order and --max 3 stops after the
  // skipped one has been seen (over several partitions the order, and so `skipped`, would vary).
  lt::OutRecord other{topic, std::nullopt, "x", {{"messageType", "lotteryStarted"}}, 0};
  std::vector<lt::OutRecord> records = {AwardRecord(topic, valid, false),
                                        AwardRecord(topic, as_json, true), other,
                                        AwardRecord(topic, tampered, false)};
  for (auto& r : records) r.partition = 0;
  lt::ProduceAll(records);

  Options o;
  o.bootstrap = lt::KafkaBootstrap();
  o.topic = topic;
  o.from_beginning = true;
  o.max = 3;
  o.timeout_ms = 30000;
  std::ostringstream out;
  auto stats = Watch(o, out, {});
  ASSERT_OK(stats);
  EXPECT_TRUE(stats->reached_max) << out.str();
  EXPECT_EQ(stats->verified, 2) << out.str();
  EXPECT_EQ(stats->failed, 1) << out.str();
  const std::string text = out.str();
  for (const auto* a : {&valid, &as_json}) {
    EXPECT_THAT(text, HasSubstr("award lottery=" + a->lottery_id() + " game=" + a->game_id() +
                                " winner=" + a->player_id() + " win_sum=" + a->win_sum() +
                                " participants=5 proof=verified"));
  }
  EXPECT_THAT(text, HasSubstr("lottery=" + tampered.lottery_id()));
  EXPECT_THAT(text, HasSubstr("proof=FAILED (win_sum"));
  EXPECT_THAT(text, HasSubstr("messageType=lotteryAwardCreated"));

  // The binary: --strict exits 1 because of the tampered award; the summary line says why.
  const std::string log = ::testing::TempDir() + lt::UniqueName("watch") + ".log";
  lt::Process watch({lt::BinaryPath("lottery-watch"), "--topic", topic, "--from-beginning", "--max",
                     "3", "--timeout-ms", "30000", "--strict"},
                    {{"LOTTERY_KAFKA_BOOTSTRAP", lt::KafkaBootstrap()}}, log);
  EXPECT_EQ(watch.Wait(std::chrono::seconds(60)), 1);
  std::ifstream in(log);
  std::string logged((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(logged, HasSubstr("summary awards=3 verified=2 failed=1 undecodable=0 skipped=1"));
  EXPECT_OK(kafka::DeleteTopics(lt::KafkaBootstrap(), {topic}));
}

TEST(WatchKafka, WithoutFromBeginningSeesOnlyNewAwardsEvenOnATopicCreatedLater) {
  const std::string topic = lt::UniqueName("awards_new");
  auto old_award = ValidAward(), new_award = ValidAward();
  lt::ProduceAll({AwardRecord(topic, old_award, false)});
  Options o;
  o.bootstrap = lt::KafkaBootstrap();
  o.topic = topic;
  o.max = 1;
  o.timeout_ms = 30000;
  std::ostringstream out;
  std::thread producer([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    lt::ProduceAll({AwardRecord(topic, new_award, false)});
  });
  auto stats = Watch(o, out, {});
  producer.join();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->verified, 1);
  EXPECT_THAT(out.str(), HasSubstr(new_award.lottery_id()));
  EXPECT_THAT(out.str(), ::testing::Not(HasSubstr(old_award.lottery_id())));

  // A topic that does not exist when the watcher starts: the first award is still seen.
  const std::string later = lt::UniqueName("awards_later");
  o.topic = later;
  std::ostringstream out2;
  std::thread producer2([&] {
    std::this_thread::sleep_for(std::chrono::seconds(2));
    lt::ProduceAll({AwardRecord(later, new_award, false)});
  });
  stats = Watch(o, out2, {});
  producer2.join();
  ASSERT_OK(stats);
  EXPECT_EQ(stats->verified, 1) << out2.str();
  EXPECT_OK(kafka::DeleteTopics(lt::KafkaBootstrap(), {topic, later}));
}

}  // namespace
}  // namespace lottery::watch
