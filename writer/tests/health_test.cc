// The writer's readiness rules, the lag arithmetic and the bounded label set of skipped types.
#include "lottery/writer/health.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/writer/skip_labels.h"

namespace lottery::writer {
namespace {

using ::testing::HasSubstr;

Health ReadyHealth() {
  Health h;
  h.PgConnected();
  h.Subscribed(true);
  return h;
}

TEST(Health, ReadyOnlyWhenSubscribedAndConnected) {
  Health h;
  EXPECT_FALSE(h.ready());
  h.Subscribed(true);
  EXPECT_FALSE(h.ready()) << "no PostgreSQL connection yet";
  h.PgConnected();
  EXPECT_TRUE(h.ready());
  h.Subscribed(false);
  EXPECT_FALSE(h.ready());
}

TEST(Health, ALostConnectionIsNotReadyUntilItIsBack) {
  Health h = ReadyHealth();
  h.PgLost(absl::UnavailableError("connection refused"));
  EXPECT_FALSE(h.ready());
  EXPECT_THAT(h.reason(), HasSubstr("connection refused"));
  h.PgConnected();
  EXPECT_TRUE(h.ready());
}

// The default game_rule row deleted: every batch fails with kFailedPrecondition while the
// connection is fine (idle checks succeed). Not ready, with the reason, until a batch commits.
TEST(Health, FailingBatchesAreNotReadyEvenWithALiveConnection) {
  Health h = ReadyHealth();
  h.BatchFailed(absl::FailedPreconditionError("game_rule has no default (nil UUID) row"));
  EXPECT_FALSE(h.ready());
  EXPECT_THAT(h.reason(), HasSubstr("batches failing"));
  EXPECT_THAT(h.reason(), HasSubstr("game_rule has no default"));
  h.PgConnected();
  EXPECT_FALSE(h.ready()) << "a live connection does not make failing batches move";
  h.BatchCommitted();
  EXPECT_TRUE(h.ready());
}

TEST(Health, LostRacesAreNormalUntilTheyRepeat) {
  Health h = ReadyHealth();
  for (int i = 1; i < Health::kMaxAbortsInARow; ++i) {
    h.BatchFailed(absl::AbortedError("deadlock"));
    EXPECT_TRUE(h.ready()) << i;
  }
  h.BatchFailed(absl::AbortedError("deadlock"));
  EXPECT_FALSE(h.ready());
  h.BatchCommitted();
  EXPECT_TRUE(h.ready());
  h.BatchFailed(absl::AbortedError("deadlock"));
  EXPECT_TRUE(h.ready()) << "the count restarts after a commit";
}

TEST(PartitionLag, FromTheCommittedOffsetOrTheLowWatermark) {
  EXPECT_EQ(PartitionLag(0, 100, 40), 60);
  EXPECT_EQ(PartitionLag(30, 100, std::nullopt), 70);
  EXPECT_EQ(PartitionLag(-1, 5, std::nullopt), 5);
  EXPECT_EQ(PartitionLag(0, 100, 100), 0);
  EXPECT_EQ(PartitionLag(0, 90, 100), 0) << "never negative (a stale watermark)";
}

TEST(SkipLabels, TheFirstTypesKeepTheirLabelLaterOnesAreOther) {
  SkipLabels labels(2);
  EXPECT_EQ(labels.LabelFor("player.registered"), "player.registered");
  EXPECT_EQ(labels.LabelFor("player.left"), "player.left");
  EXPECT_EQ(labels.LabelFor("player.x"), "other");
  EXPECT_EQ(labels.LabelFor("player.y"), "other");
  EXPECT_EQ(labels.LabelFor("player.registered"), "player.registered");
  EXPECT_EQ(labels.LabelFor("player.left"), "player.left");
}

TEST(SkipLabels, LabelsAreSafeInTheExpositionFormat) {
  SkipLabels labels;
  EXPECT_EQ(labels.LabelFor("a\"b"), "a\\x22b");
  EXPECT_EQ(labels.LabelFor(std::string(300, 'x')).size(), 64u);
}

}  // namespace
}  // namespace lottery::writer
