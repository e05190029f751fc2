// Test support for integration tests against the real stack started by scripts/stack (or the
// servers named by LOTTERY_PG_DSN / LOTTERY_KAFKA_BOOTSTRAP). A test that needs a server and does
// not find one FAILS: it never skips, so a green run always means the servers were exercised.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "lottery/common/kafka.h"
#include "lottery/common/pg.h"

namespace lottery::testing {

// LOTTERY_PG_DSN / LOTTERY_KAFKA_BOOTSTRAP; aborts the test binary with a clear message if unset.
std::string PgDsn();
std::string KafkaBootstrap();

// A unique name for this process and call: "<prefix>_<pid>_<counter>_<random>", lowercase, safe
// as a database, slot, topic or group name.
std::string UniqueName(const std::string& prefix);

// The whole file (a child's log, a state file); "" when it cannot be read.
std::string ReadFile(const std::string& path);

// Replaces (or adds) dbname=... in a libpq key=value DSN.
std::string WithDatabase(const std::string& dsn, const std::string& dbname);

// A fresh database with all migrations applied; dropped (with its replication slots) on
// destruction unless LOTTERY_KEEP_TEST_DB is set.
class TestDatabase {
 public:
  explicit TestDatabase(const std::string& prefix = "t", bool migrate = true);
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& dsn() const { return dsn_; }
  pg::ConnPtr Connect() const;  // fails the test if it cannot connect
  // Runs a query and returns the first column of the first row ("" when none). Fails the test on
  // error.
  std::string Scalar(const std::string& sql) const;
  // The DSN of a shipped role (lottery_writer, lottery_relay, ...: common/roles.h) on this
  // database, after applying the roles here once, with kTestRolePassword as their password. The
  // daemons under test run as their role, so a missing grant fails the test.
  std::string RoleDsn(const std::string& role) const;

 private:
  std::string name_;
  std::string dsn_;
  mutable bool roles_applied_ = false;
};

// The shipped roles' password in tests (pass it as PGPASSWORD: never on a command line). The
// local stack trusts 127.0.0.1; the password is for servers that do not.
inline constexpr const char* kTestRolePassword = "test-only-password";

// A Kafka record as a read_committed consumer sees it.
struct Record {
  std::string topic;
  int partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> Header(const std::string& name) const;
};

// Reads every committed record of `topics` from the beginning until it has seen the high
// watermark of every partition (read_committed: aborted and open-transaction data excluded).
std::vector<Record> ReadAllCommitted(const std::vector<std::string>& topics,
                                     std::chrono::milliseconds timeout = std::chrono::seconds(60));

// The property of every delivery test: each expected event id (the `id` header) exactly once,
// and no record without an id or with an id not expected. Names the first missing, duplicated
// and invented ids.
void ExpectEachExactlyOnce(const std::vector<Record>& records,
                           const std::vector<std::string>& expected_ids);

// Produces plain (non-transactional, idempotent) records and waits for every delivery.
struct OutRecord {
  std::string topic;
  std::optional<std::string> key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
  int partition = -1;  // -1: partitioner decides
};
// `extra` adds or overrides producer properties (batch.num.messages, ...).
void ProduceAll(const std::vector<OutRecord>& records, const kafka::Properties& extra = {});

// A child process (for daemons under test): started with argv and extra environment, stdout and
// stderr appended to a log file. Killed (SIGKILL) on destruction if still running.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
          const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  void Kill(int sig);
  // Waits for exit; returns the exit code (128+signal when killed), or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (the kernel picked it for a socket bound to
// port 0, which is then closed). For daemons under test that must be told a port up front.
int FreePort();

// Path of a built binary: <build>/bin/<name>. Relies on the tests living in <build>/tests.
std::string BinaryPath(const std::string& name);

// Polls `pred` every 50 ms until it is true or the timeout passes; returns its last value.
template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    struct timespec ts {
      0, 50'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return pred();
}

}  // namespace lottery::testing
