// ConfirmGate: an LSN is confirmed only once Kafka shows its transaction's records as stable.
#include "lottery/cdc/confirm_gate.h"

#include <gtest/gtest.h>

namespace lottery::cdc {
namespace {

const TopicPartitionKey kAward{"lottery.v1.award", 0};
const TopicPartitionKey kCheckpoint{"lottery.relay.checkpoint", 0};
const absl::Time kT0 = absl::FromUnixSeconds(1000);

TEST(ConfirmGate, NothingWaitingLetsTheTrackerDecide) {
  ConfirmGate gate;
  EXPECT_EQ(gate.Cap(500), 500u);
  EXPECT_TRUE(gate.Wanted().empty());
  EXPECT_EQ(gate.oldest_since(), absl::InfiniteFuture());
  EXPECT_EQ(gate.Describe(), "");
}

TEST(ConfirmGate, HoldsACommitUntilEveryPartitionIsStablePastItsRecords) {
  ConfirmGate gate;
  gate.Committed(100, 200, {{kAward, 9}, {kCheckpoint, 3}}, kT0);
  EXPECT_EQ(gate.Cap(200), 100u);  // commit_transaction returned OK; that is not enough
  EXPECT_EQ(gate.Wanted().size(), 2u);
  gate.OnStable({{kAward, 10}});  // the data partition's marker is written...
  EXPECT_EQ(gate.Cap(200), 100u);
  EXPECT_EQ(gate.Wanted(), std::vector<TopicPartitionKey>{kCheckpoint});
  gate.OnStable({{kCheckpoint, 3}});  // ...the checkpoint's is not: LSO == its offset
  EXPECT_EQ(gate.Cap(200), 100u);
  EXPECT_NE(gate.Describe().find("lottery.relay.checkpoint[0] offset 3"), std::string::npos);
  gate.OnStable({{kCheckpoint, 5}});
  EXPECT_EQ(gate.Cap(200), 200u);
  EXPECT_EQ(gate.waiting(), 0u);
}

// The incident of docs/delivery.md: two commits acknowledged, neither marker written. Nothing
// past the last stable commit may be confirmed, however far the tracker got.
TEST(ConfirmGate, CommitsWithoutMarkersAreNeverConfirmed) {
  ConfirmGate gate;
  gate.Committed(100, 200, {{kAward, 389}, {kCheckpoint, 158}}, kT0);
  gate.OnStable({{kAward, 390}, {kCheckpoint, 159}});
  EXPECT_EQ(gate.Cap(200), 200u);
  gate.Committed(200, 300, {{kAward, 399}, {kCheckpoint, 159}}, kT0 + absl::Seconds(1));
  gate.Committed(300, 400, {{kAward, 409}, {kCheckpoint, 160}}, kT0 + absl::Seconds(2));
  for (int i = 0; i < 5; ++i) gate.OnStable({{kAward, 390}, {kCheckpoint, 159}});
  EXPECT_EQ(gate.Cap(1000), 200u);
  EXPECT_EQ(gate.oldest_since(), kT0 + absl::Seconds(1));
  EXPECT_NE(gate.Describe().find("LSN 0/12C"), std::string::npos);  // 300
}

TEST(ConfirmGate, PassesInOrderOnly) {
  ConfirmGate gate;
  gate.Committed(100, 200, {{kAward, 10}}, kT0);
  gate.Committed(200, 300, {{kCheckpoint, 4}}, kT0);
  gate.OnStable({{kCheckpoint, 5}});  // the younger one is stable, the older one is not
  EXPECT_EQ(gate.Cap(300), 100u);
  EXPECT_EQ(gate.waiting(), 2u);
  gate.OnStable({{kAward, 11}});
  EXPECT_EQ(gate.Cap(300), 300u);
  EXPECT_EQ(gate.waiting(), 0u);
}

TEST(ConfirmGate, RemembersStableOffsetsAndIgnoresOlderAnswers) {
  ConfirmGate gate;
  gate.OnStable({{kAward, 50}});
  gate.Committed(100, 200, {{kAward, 20}}, kT0);  // already stable: passes at once
  EXPECT_EQ(gate.waiting(), 0u);
  EXPECT_EQ(gate.Cap(200), 200u);
  gate.Committed(200, 300, {{kAward, 60}}, kT0);
  gate.OnStable({{kAward, 40}});  // an older answer does not move the known LSO back
  gate.OnStable({{kAward, 61}});
  EXPECT_EQ(gate.Cap(300), 300u);
}

TEST(ConfirmGate, ACommitWithoutOffsetsPassesUnlessAnOlderOneWaits) {
  ConfirmGate gate;
  gate.Committed(100, 200, {}, kT0);
  EXPECT_EQ(gate.Cap(200), 200u);
  gate.Committed(200, 300, {{kAward, 5}}, kT0);
  gate.Committed(300, 400, {}, kT0);
  EXPECT_EQ(gate.Cap(400), 200u);
  gate.OnStable({{kAward, 6}});
  EXPECT_EQ(gate.Cap(400), 400u);
}

TEST(ConfirmGate, NeverConfirmsPastTheTracker) {
  ConfirmGate gate;
  gate.Committed(100, 200, {{kAward, 5}}, kT0);
  EXPECT_EQ(gate.Cap(50), 50u);
}

}  // namespace
}  // namespace lottery::cdc
