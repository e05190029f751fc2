// The recovery scenarios' world: the relay suites' RelayWorld (database, slot, checkpoint topic,
// the relay binary as a child process, outbox inserts), with every setting in the environment so
// the daemon and the recovery commands (status, replay, drop, recover) run against the same one.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../relay_test_util.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lottery/testing/stack.h"

namespace lottery::cdc::recovery::testing {

using lottery::cdc::testing::InsertOutbox;
using lottery::cdc::testing::RelayWorld;
using lottery::cdc::testing::Trickle;
using lottery::testing::ExpectEachExactlyOnce;
using lottery::testing::Process;
using lottery::testing::ReadFile;
using lottery::testing::Record;
using lottery::testing::TestDatabase;

class Scenario : public RelayWorld {
 public:
  explicit Scenario(const std::string& prefix) : RelayWorld(prefix) {}

  std::map<std::string, std::string> Env() const {
    // Every command runs as lottery_relay, so a grant the recovery commands miss fails the test.
    std::map<std::string, std::string> env = RoleEnv();
    env.insert({{"LOTTERY_PG_DSN", db.RoleDsn("lottery_relay")},
                {"LOTTERY_KAFKA_BOOTSTRAP", lottery::testing::KafkaBootstrap()},
                {"LOTTERY_RELAY_SLOT", slot},
                {"LOTTERY_RELAY_CHECKPOINT_TOPIC", checkpoint_topic},
                {"LOTTERY_RELAY_BATCH_TXNS", "5"},
                {"LOTTERY_RELAY_BATCH_MS", "10"},
                {"LOTTERY_METRICS_ADDR", ""},
                {"LOTTERY_LOG_LEVEL", "info"}});
    return env;
  }

  // A fresh log file per command, in the order they ran.
  std::string NextLog(const std::string& what) { return LogPath(absl::StrCat(n_++, "_", what)); }

  // Runs `lottery-cdc-relay <args>` to completion; returns its exit code, output in `output`.
  int Cli(const std::vector<std::string>& args, std::string* output = nullptr,
          std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    std::vector<std::string> argv = {lottery::testing::BinaryPath("lottery-cdc-relay")};
    argv.insert(argv.end(), args.begin(), args.end());
    std::string log = NextLog(args.empty() ? "run" : args[0]);
    Process p(argv, Env(), log);
    std::optional<int> rc = p.Wait(timeout);
    std::string out = ReadFile(log);
    if (output != nullptr) *output = out;
    if (!rc.has_value()) {
      ADD_FAILURE() << "lottery-cdc-relay " << (args.empty() ? "" : args[0]) << " timed out:\n"
                    << out;
      return -1;
    }
    return *rc;
  }

  // The daemon in the background, configured by Env().
  std::unique_ptr<Process> StartRelay(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {lottery::testing::BinaryPath("lottery-cdc-relay"), "run"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    last_relay_log_ = NextLog("relay");
    return std::make_unique<Process>(argv, Env(), last_relay_log_);
  }
  const std::string& last_relay_log() const { return last_relay_log_; }

  // Runs the daemon until everything committed so far is in Kafka and confirmed, then it exits 0.
  void Drain() {
    std::string end = db.Scalar("SELECT pg_current_wal_lsn()");
    std::string out;
    int rc = Cli({"run", "--end-lsn", end}, &out, std::chrono::seconds(120));
    ASSERT_EQ(rc, 0) << out;
  }

 private:
  std::string last_relay_log_;
  int n_ = 0;
};

// Inserts `txns` transactions of `per_txn` outbox rows into `topic` (keys key-0..key-6); returns
// the event ids.
inline std::vector<std::string> InsertRows(PGconn* conn, const std::string& topic, int txns,
                                           int per_txn) {
  std::vector<std::string> ids;
  for (int t = 0; t < txns; ++t) {
    std::vector<std::string> keys, payloads;
    for (int g = 1; g <= per_txn; ++g) {
      keys.push_back(absl::StrCat("key-", g % 7));
      payloads.push_back(absl::StrCat("{\"txn\":", t, ",\"row\":", g, "}"));
    }
    std::vector<std::string> got = InsertOutbox(conn, topic, keys, payloads, "{\"x-test\": \"1\"}");
    if (got.size() != keys.size()) return ids;  // InsertOutbox reported the failure
    ids.insert(ids.end(), got.begin(), got.end());
  }
  return ids;
}

}  // namespace lottery::cdc::recovery::testing
