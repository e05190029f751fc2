#include "lottery/cdc/claim.h"

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::cdc {
namespace {

using ::lottery::testing::StatusIs;
using ::testing::HasSubstr;

TEST(Claim, EncodesAndDecodes) {
  RelayClaim c{"0b1c2d3e-0000-4000-8000-000000000001", "host \"a\"", 4242, 1764684191000};
  absl::StatusOr<RelayClaim> back = DecodeClaim(EncodeClaim(c));
  ASSERT_OK(back.status());
  EXPECT_EQ(*back, c);
  EXPECT_THAT(c.Describe(), HasSubstr("pid 4242 on host \"a\", claimed 2025-12-02T14:03:11Z"));
}

TEST(Claim, RefusesWhatIsNotAClaim) {
  EXPECT_THAT(DecodeClaim("not json"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(DecodeClaim("{\"slot\":\"s\",\"lsn\":\"0/1\"}"),
              StatusIs(absl::StatusCode::kDataLoss));  // a checkpoint, not a claim
  EXPECT_THAT(DecodeClaim("{\"instance\":\"\",\"host\":\"h\",\"pid\":1,\"claimed_at_unix_ms\":1}"),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(Claim, NewClaimsAreDistinctAndNameThisProcess) {
  RelayClaim a = NewClaim(), b = NewClaim();
  EXPECT_NE(a.instance, b.instance);
  EXPECT_EQ(a.instance.size(), 36u);
  EXPECT_EQ(a.pid, getpid());
  EXPECT_FALSE(a.host.empty());
  EXPECT_EQ(ClaimKey("lottery_outbox"), "lottery_outbox.claim");
}

TEST(Claim, AFailedProducerRestartsUnlessAnotherRelayClaimedTheSlotSince) {
  RelayClaim mine = NewClaim(), other = NewClaim();
  EXPECT_EQ(ClassifyProducerFailure(mine, mine), ProducerFailure::kRestartProducer);
  // No claim at all (the checkpoint topic was recreated): nobody else announced itself.
  EXPECT_EQ(ClassifyProducerFailure(mine, std::nullopt), ProducerFailure::kRestartProducer);
  EXPECT_EQ(ClassifyProducerFailure(mine, other), ProducerFailure::kFencedByAnotherRelay);
}

}  // namespace
}  // namespace lottery::cdc
