// Kill -9 of the relay at many random moments during a steady stream of outbox inserts: afterwards
// every event is in Kafka exactly once (read_committed) and, per key, in commit order.
#include <signal.h>

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "relay_test_util.h"

namespace lottery::cdc::testing {
namespace {

using lottery::testing::ReadAllCommitted;

constexpr int kKills = 22;

TEST(RelayKillE2eTest, KilledAtRandomMomentsEveryEventLandsExactlyOnceInCommitOrder) {
  RelayWorld w;
  {
    auto first = w.StartRelay("first");  // creates the slot (first start, no checkpoint)
    ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30)))
        << w.Log("first");
    first->Kill(SIGKILL);
    first->Wait(std::chrono::seconds(10));
  }

  // One writer: its commit order is its insert order. Transactions of 1-3 rows over 8 keys;
  // the payload is a global counter, so per key the payloads must come out increasing.
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> ids;
  std::map<std::string, std::vector<std::string>> expected_by_key;
  std::thread writer([&] {
    auto conn = w.db.Connect();
    std::mt19937 rng(42);
    int n = 0;
    while (!stop.load()) {
      int rows = 1 + static_cast<int>(rng() % 3);
      std::vector<std::string> keys, payloads;
      for (int r = 0; r < rows; ++r) {
        keys.push_back(absl::StrCat("key-", rng() % 8));
        payloads.push_back(absl::StrCat(n++));
      }
      auto got = InsertOutbox(conn.get(), w.topic, keys, payloads);
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(ids.end(), got.begin(), got.end());
      for (int r = 0; r < rows; ++r) expected_by_key[keys[r]].push_back(payloads[r]);
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
    }
  });

  std::mt19937 rng(std::random_device{}());
  for (int i = 0; i < kKills; ++i) {
    auto relay = w.StartRelay(absl::StrCat("kill", i),
                              {"--batch-ms", absl::StrCat(rng() % 40),
                               // A slow status timer widens the window between the
                               // Kafka commit and the PostgreSQL confirm, so kills land
                               // there too and the restart must skip by checkpoint.
                               "--status-interval-ms", absl::StrCat(200 + rng() % 2000)});
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1200));
    ASSERT_TRUE(relay->Running()) << w.Log(absl::StrCat("kill", i));
    relay->Kill(SIGKILL);
    relay->Wait(std::chrono::seconds(10));
  }
  stop = true;
  writer.join();
  size_t published_before_final = 0;
  {
    auto records = ReadAllCommitted({w.topic});
    published_before_final = records.size();
  }

  // A final relay drains the rest and stops at the end of the WAL written so far.
  Lsn end = w.CurrentWalLsn();
  auto last = w.StartRelay("final", {"--end-lsn", FormatLsn(end)});
  ASSERT_EQ(last->Wait(std::chrono::seconds(120)), 0) << w.Log("final");

  auto records = ReadAllCommitted({w.topic});
  std::map<std::string, std::vector<std::string>> got_by_key;
  for (const auto& r : records) got_by_key[r.key.value_or("?")].push_back(r.value);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GT(ids.size(), 500u) << "the stream was too thin to mean anything";
  EXPECT_GT(published_before_final, 0u) << "the killed relays never committed anything";
  lottery::testing::ExpectEachExactlyOnce(records, ids);
  for (const auto& [key, expected] : expected_by_key) {
    EXPECT_EQ(got_by_key[key], expected) << "order of " << key;
  }
  int skipped_runs = 0;
  for (int i = 0; i < kKills; ++i) {
    if (w.Log(absl::StrCat("kill", i)).find("Kafka already holds") != std::string::npos) {
      ++skipped_runs;
    }
  }
  if (w.Log("final").find("Kafka already holds") != std::string::npos) ++skipped_runs;
  std::cerr << skipped_runs << " restarts skipped transactions the slot re-sent\n";
  std::cerr << ids.size() << " events, " << kKills << " kills, " << published_before_final
            << " published before the final run\n";
}

}  // namespace
}  // namespace lottery::cdc::testing
