#include "lottery/domain/prize.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::domain {
namespace {

using ::lottery::testing::StatusIs;

TEST(ComputeWinSumTest, FloorsOfTheDocumentedExamples) {
  // 12345.00 staked, 33%: 4073.85 exactly.
  EXPECT_EQ(*ComputeWinSum(PrizePolicy::kWinnerStake, 3300, 1234500, 9999999), 407385);
  // 0.50 * 33% = 0.165 -> 0.16 (floor, never rounded up).
  EXPECT_EQ(*ComputeWinSum(PrizePolicy::kWinnerStake, 3300, 50, 100), 16);
  EXPECT_EQ(*ComputeWinSum(PrizePolicy::kPot, 3300, 50, 407985), 134635);
  EXPECT_EQ(*ComputeWinSum(PrizePolicy::kPot, 10000, 1, 777), 777);
  EXPECT_EQ(*ComputeWinSum(PrizePolicy::kPot, 0, 1, 777), 0);
}

TEST(ComputeWinSumTest, NoOverflowAtTheTop) {
  EXPECT_EQ(*ComputeWinSum(PrizePolicy::kPot, 10000, 0, INT64_MAX), INT64_MAX);
  EXPECT_EQ(*ComputeWinSum(PrizePolicy::kPot, 9999, 0, INT64_MAX),
            static_cast<int64_t>(static_cast<__int128>(INT64_MAX) * 9999 / 10000));
}

TEST(ComputeWinSumTest, RejectsBadInputs) {
  EXPECT_THAT(ComputeWinSum(PrizePolicy::kPot, 10001, 1, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputeWinSum(PrizePolicy::kWinnerStake, 3300, -1, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ComputeWinSum(PrizePolicy::kPot, 3300, 1, -1),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(PrizePolicyTest, ParseAndToString) {
  EXPECT_EQ(*ParsePrizePolicy("winner_stake"), PrizePolicy::kWinnerStake);
  EXPECT_EQ(*ParsePrizePolicy("pot"), PrizePolicy::kPot);
  EXPECT_EQ(ToString(PrizePolicy::kPot), "pot");
  EXPECT_EQ(ToString(PrizePolicy::kWinnerStake), "winner_stake");
  EXPECT_THAT(ParsePrizePolicy("POT"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace lottery::domain
