// One PostgreSQL transaction of 200,000 outbox rows (a bulk re-issue) against the real PostgreSQL
// and Kafka: published exactly once, while the relay's peak RSS stays bounded, because rows past
// --max-buffered-rows are streamed into the Kafka transaction as they are decoded.
#include <signal.h>

#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "relay_test_util.h"

namespace lottery::cdc::testing {
namespace {

using lottery::testing::ReadAllCommitted;
using lottery::testing::Record;
using ::testing::HasSubstr;

// VmHWM (peak resident set) of a process, in MiB; -1 when unreadable.
double PeakRssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return -1;
}

constexpr int kRows = 200'000;
constexpr double kMaxRssMiB = 128;

TEST(RelayBigTxnE2eTest, A200kRowTransactionIsPublishedOnceInBoundedMemory) {
  RelayWorld w;
  auto relay = w.StartRelay("relay");
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("relay");
  auto conn = w.db.Connect();
  // ~500-byte payloads: buffered whole, the transaction alone would take ~150 MB.
  ASSERT_OK(pg::ExecCommand(
      conn.get(),
      "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload, "
      "headers) SELECT gen_random_uuid(), 'award', 'agg-' || (g % 1000), 'lotteryAwardCreated', "
      "$1, 'application/json', convert_to('{\"n\":' || g || ',\"pad\":\"' || repeat('x', 480) || "
      "'\"}', 'UTF8'), '{}'::jsonb FROM generate_series(1, $2::int) g",
      {pg::Param::Text(w.topic), pg::Param::Text(std::to_string(kRows))}));
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(300))) << w.Log("relay");
  const double peak = PeakRssMiB(relay->pid());
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(30)), 0) << w.Log("relay");
  EXPECT_THAT(w.Log("relay"), HasSubstr("streaming it into one Kafka transaction"));
  EXPECT_GT(peak, 0);
  EXPECT_LE(peak, kMaxRssMiB) << "relay peak RSS " << peak << " MiB for one " << kRows
                              << "-row transaction";
  RecordProperty("relay_peak_rss_mib", std::to_string(peak));
  std::cout << "relay peak RSS " << peak << " MiB\n";

  std::vector<Record> records = ReadAllCommitted({w.topic});
  std::map<std::string, int> seen;
  for (const auto& r : records) ++seen[r.Header("id").value_or("")];
  EXPECT_EQ(records.size(), static_cast<size_t>(kRows));
  EXPECT_EQ(seen.size(), static_cast<size_t>(kRows)) << "an id twice, or one without an id";
  auto ids = w.db.Scalar(absl::StrCat("SELECT count(*) FROM outbox WHERE topic = '", w.topic, "'"));
  EXPECT_EQ(ids, std::to_string(kRows));
  // Every record of the transaction carries the same lsn header (its commit's start).
  std::set<std::string> lsns;
  for (const auto& r : records) lsns.insert(r.Header("lsn").value_or(""));
  EXPECT_EQ(lsns.size(), 1u);
}

}  // namespace
}  // namespace lottery::cdc::testing
