// Shared scaffolding of the recovery scenarios: a fresh database, a slot, a checkpoint topic and
// destination topics with unique names; the real lottery-cdc-relay binary as a child process; and
// the property every scenario ends with: each outbox event exactly once for read_committed.
#pragma once

#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/testing/stack.h"

namespace lottery::cdc::recovery::testing {

using lottery::testing::Process;
using lottery::testing::Record;
using lottery::testing::TestDatabase;

class Scenario {
 public:
  explicit Scenario(const std::string& prefix)
      : db_(prefix),
        slot_(lottery::testing::UniqueName(prefix + "_slot")),
        checkpoint_topic_(lottery::testing::UniqueName(prefix + "_cp")),
        log_prefix_(absl::StrCat(::testing::TempDir(), lottery::testing::UniqueName(prefix))) {}

  TestDatabase& db() { return db_; }
  const std::string& slot() const { return slot_; }
  const std::string& checkpoint_topic() const { return checkpoint_topic_; }

  std::map<std::string, std::string> Env() const {
    // Every command runs as lottery_relay, so a grant the recovery commands miss fails the test.
    return {{"LOTTERY_PG_DSN", db_.RoleDsn("lottery_relay")},
            {"PGPASSWORD", lottery::testing::kTestRolePassword},
            {"LOTTERY_KAFKA_BOOTSTRAP", lottery::testing::KafkaBootstrap()},
            {"LOTTERY_RELAY_SLOT", slot_},
            {"LOTTERY_RELAY_CHECKPOINT_TOPIC", checkpoint_topic_},
            {"LOTTERY_RELAY_BATCH_TXNS", "5"},
            {"LOTTERY_RELAY_BATCH_MS", "10"},
            {"LOTTERY_METRICS_ADDR", ""},
            {"LOTTERY_LOG_LEVEL", "info"}};
  }

  std::string NextLog(const std::string& what) {
    return absl::StrCat(log_prefix_, "_", n_++, "_", what, ".log");
  }

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

  // The daemon in the background.
  std::unique_ptr<Process> StartRelay(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {lottery::testing::BinaryPath("lottery-cdc-relay"), "run"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    last_relay_log_ = NextLog("relay");
    return std::make_unique<Process>(argv, Env(), last_relay_log_);
  }
  const std::string& last_relay_log() const { return last_relay_log_; }

  // Runs the daemon until everything committed so far is in Kafka and confirmed, then it exits 0.
  void Drain() {
    std::string end = db_.Scalar("SELECT pg_current_wal_lsn()");
    std::string out;
    int rc = Cli({"run", "--end-lsn", end}, &out, std::chrono::seconds(120));
    ASSERT_EQ(rc, 0) << out;
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

 private:
  TestDatabase db_;
  std::string slot_;
  std::string checkpoint_topic_;
  std::string log_prefix_;
  std::string last_relay_log_;
  int n_ = 0;
};

// Inserts `txns` transactions of `per_txn` outbox rows into `topic`; returns the event ids.
inline std::vector<std::string> InsertRows(PGconn* conn, const std::string& topic, int txns,
                                           int per_txn) {
  std::vector<std::string> ids;
  for (int t = 0; t < txns; ++t) {
    auto res =
        pg::Exec(conn,
                 "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, "
                 "payload, headers) SELECT gen_random_uuid(), 'lottery', 'key-' || (g % 7), "
                 "'lotteryAwardCreated', $1, 'application/octet-stream', "
                 "convert_to(repeat(md5(g::text), 4), 'UTF8'), '{\"x-test\": \"1\"}' "
                 "FROM generate_series(1, $2::int) g RETURNING id::text",
                 {pg::Param::Text(topic), pg::Param::Text(std::to_string(per_txn))});
    EXPECT_TRUE(res.ok()) << res.status();
    if (!res.ok()) return ids;
    for (int i = 0; i < PQntuples(res->get()); ++i) ids.emplace_back(pg::Value(res->get(), i, 0));
  }
  return ids;
}

using ::lottery::testing::ExpectEachExactlyOnce;

}  // namespace lottery::cdc::recovery::testing
