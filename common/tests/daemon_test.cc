#include "lottery/common/daemon.h"

#include <csignal>

#include "gtest/gtest.h"

namespace lottery::daemon {
namespace {

TEST(BackoffTest, GrowsWithJitterUpToTheCapAndResets) {
  Backoff b(absl::Milliseconds(200), absl::Seconds(10), 7);
  absl::Duration total;
  for (int i = 0; i < 10; ++i) {
    absl::Duration d = b.Next();
    EXPECT_GE(d, absl::Milliseconds(100));
    EXPECT_LE(d, absl::Seconds(10));
    total += d;
  }
  // Ten restarts take seconds, not a hot loop.
  EXPECT_GT(total, absl::Seconds(10));
  b.Reset();
  EXPECT_LT(b.Next(), absl::Milliseconds(200));
  EXPECT_NE(Backoff(absl::Seconds(1), absl::Seconds(10), 7).Next(),
            Backoff(absl::Seconds(1), absl::Seconds(10), 8).Next());
}

TEST(StopSignalsTest, SigtermAndSigintSetTheFlag) {
  const std::atomic<bool>& stop = InstallStopSignals();
  EXPECT_FALSE(stop.load());
  ASSERT_EQ(raise(SIGTERM), 0);  // handled: the test process goes on
  EXPECT_TRUE(stop.load());
  EXPECT_EQ(&InstallStopSignals(), &stop);  // one flag per process
}

TEST(MetricsServerTest, OffStartsNone) {
  metrics::Registry registry;
  auto none = StartMetricsServer("off", &registry, [] { return true; });
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  auto empty = StartMetricsServer("", &registry, [] { return true; });
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, nullptr);
  EXPECT_FALSE(StartMetricsServer("not an address", &registry, [] { return true; }).ok());
}

}  // namespace
}  // namespace lottery::daemon
