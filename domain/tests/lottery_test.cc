#include "lottery/domain/lottery.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::domain {
namespace {

using ::lottery::testing::IsOk;
using ::lottery::testing::StatusIs;

TEST(LotteryStatusTest, OnlyForwardTransitions) {
  const LotteryStatus all[] = {LotteryStatus::kInWaiting, LotteryStatus::kStarted,
                               LotteryStatus::kFinished};
  for (LotteryStatus from : all) {
    for (LotteryStatus to : all) {
      const bool legal = (from == LotteryStatus::kInWaiting && to == LotteryStatus::kStarted) ||
                         (from == LotteryStatus::kStarted && to == LotteryStatus::kFinished);
      if (legal) {
        EXPECT_THAT(CheckTransition(from, to), IsOk());
      } else {
        EXPECT_THAT(CheckTransition(from, to), StatusIs(absl::StatusCode::kFailedPrecondition))
            << ToString(from) << " -> " << ToString(to);
      }
    }
  }
}

TEST(EntryStatusTest, OnlyForwardTransitions) {
  const EntryStatus all[] = {EntryStatus::kInWaiting, EntryStatus::kStarted, EntryStatus::kFinished,
                             EntryStatus::kWinner};
  int legal_count = 0;
  for (EntryStatus from : all) {
    for (EntryStatus to : all) {
      const bool legal = (from == EntryStatus::kInWaiting && to == EntryStatus::kStarted) ||
                         (from == EntryStatus::kStarted &&
                          (to == EntryStatus::kFinished || to == EntryStatus::kWinner));
      legal_count += legal;
      EXPECT_EQ(CheckTransition(from, to).ok(), legal) << ToString(from) << " -> " << ToString(to);
      if (!legal) {
        EXPECT_THAT(CheckTransition(from, to), StatusIs(absl::StatusCode::kFailedPrecondition));
      }
    }
  }
  EXPECT_EQ(legal_count, 3);
}

TEST(StatusNamesTest, RoundTrip) {
  for (auto s : {LotteryStatus::kInWaiting, LotteryStatus::kStarted, LotteryStatus::kFinished}) {
    EXPECT_EQ(*ParseLotteryStatus(ToString(s)), s);
  }
  for (auto s : {EntryStatus::kInWaiting, EntryStatus::kStarted, EntryStatus::kFinished,
                 EntryStatus::kWinner}) {
    EXPECT_EQ(*ParseEntryStatus(ToString(s)), s);
  }
  EXPECT_EQ(ToString(LotteryStatus::kInWaiting), "in_waiting");
  EXPECT_THAT(ParseLotteryStatus("winner"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseEntryStatus("cancelled"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(GameRuleTest, DefaultsAndValidation) {
  GameRule rule;
  EXPECT_EQ(rule.players_needed, 10);
  EXPECT_EQ(rule.mode, DrawMode::kUniform);
  EXPECT_EQ(rule.policy, PrizePolicy::kWinnerStake);
  EXPECT_EQ(rule.bps, 3300u);
  EXPECT_THAT(rule.Validate(), IsOk());
  rule.players_needed = 2;
  EXPECT_THAT(rule.Validate(), IsOk());
  rule.players_needed = 1;
  EXPECT_THAT(rule.Validate(), StatusIs(absl::StatusCode::kInvalidArgument));
  rule = GameRule{};
  rule.bps = 10001;
  EXPECT_THAT(rule.Validate(), StatusIs(absl::StatusCode::kInvalidArgument));
  rule = GameRule{};
  rule.mode = static_cast<DrawMode>(7);
  EXPECT_THAT(rule.Validate(), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace lottery::domain
