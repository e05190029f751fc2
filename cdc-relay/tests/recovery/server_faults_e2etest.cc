// Recovery scenarios that act on the SERVERS of the stack, not just on one database: they stop
// and start Kafka (scripts/stack kafka-stop / kafka-start in $LOTTERY_STATE_DIR, default
// <repo>/.local) and change max_slot_wal_keep_size cluster-wide for a few seconds. CTest runs them
// with RUN_SERIAL and the label `restarts-servers`. Never run them against a stack other people
// use at the same time: start a private one (LOTTERY_STATE_DIR=/tmp/x scripts/stack up) and point
// LOTTERY_PG_DSN / LOTTERY_KAFKA_BOOTSTRAP at it.
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <optional>
#include <thread>

#include "lottery/common/testing/status_matchers.h"
#include "recovery_test_util.h"

namespace lottery::cdc::recovery::testing {
namespace {

using lottery::testing::ReadAllCommitted;
using lottery::testing::UniqueName;
using lottery::testing::WaitFor;

std::string StateDir() {
  const char* d = std::getenv("LOTTERY_STATE_DIR");
  return d != nullptr && *d != '\0' ? d : std::string(LOTTERY_SOURCE_DIR) + "/.local";
}

// scripts/stack <verb> on the stack the test talks to; refuses if LOTTERY_KAFKA_BOOTSTRAP is not
// that stack's broker (stopping somebody else's Kafka would prove nothing and break them).
void Stack(const std::string& verb) {
  std::string port = ReadFile(StateDir() + "/kafka/port");
  while (!port.empty() && (port.back() == '\n' || port.back() == ' ')) port.pop_back();
  ASSERT_EQ(lottery::testing::KafkaBootstrap(), "127.0.0.1:" + port)
      << "LOTTERY_KAFKA_BOOTSTRAP is not the broker of the stack in " << StateDir();
  std::string cmd =
      "LOTTERY_STATE_DIR='" + StateDir() + "' '" + LOTTERY_SOURCE_DIR + "/scripts/stack' " + verb;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(ServerFaults, KafkaRestartUnderLoad) {
  Scenario s("rkafka");
  const std::string topic = UniqueName("rkafka_t");
  ASSERT_OK(kafka::CreateTopics(lottery::testing::KafkaBootstrap(), {{topic, 3}}));
  s.Drain();
  std::atomic<bool> stop{false};
  std::vector<std::string> ids;
  std::thread writer([&] {
    auto c = s.db.Connect();
    while (!stop.load()) {
      for (auto& id : InsertRows(c.get(), topic, 1, 4)) ids.push_back(id);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  auto relay = s.StartRelay();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  Stack("kafka-stop");
  std::this_thread::sleep_for(std::chrono::seconds(3));  // the outbox keeps growing
  Stack("kafka-start");
  std::this_thread::sleep_for(std::chrono::seconds(2));
  stop = true;
  writer.join();
  EXPECT_TRUE(relay->Running()) << "the relay must wait for Kafka, not exit:\n"
                                << ReadFile(s.last_relay_log());
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(60)), 0) << ReadFile(s.last_relay_log());
  s.Drain();
  ExpectEachExactlyOnce(ReadAllCommitted({topic}), ids);
}

// Rows keep coming while `body` runs; returns their ids.
template <typename Body>
std::vector<std::string> UnderTrickle(Scenario& s, const std::string& topic, Body body) {
  std::atomic<bool> stop{false};
  std::vector<std::string> ids;
  std::thread writer([&] {
    auto c = s.db.Connect();
    while (!stop.load()) {
      for (auto& id : InsertRows(c.get(), topic, 1, 2)) ids.push_back(id);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  body();
  stop = true;
  writer.join();
  return ids;
}

// SIGTERM while Kafka is down and a Kafka transaction is open: the relay waits --stop-timeout for
// the broker, then exits 0 (it used to abort while its commit was still in flight and exit 1
// with "_CONFLICT"); nothing is lost, because nothing past the checkpoint was confirmed.
TEST(ServerFaults, SigtermWithKafkaDownExitsZeroAfterTheStopTimeout) {
  Scenario s("rsigterm");
  const std::string topic = UniqueName("rsigterm_t");
  ASSERT_OK(kafka::CreateTopics(lottery::testing::KafkaBootstrap(), {{topic, 1}}));
  s.Drain();
  std::unique_ptr<Process> relay;
  std::optional<int> code;
  absl::Time signalled;
  std::vector<std::string> ids = UnderTrickle(s, topic, [&] {
    relay = s.StartRelay({"--stop-timeout", "4"});
    std::this_thread::sleep_for(std::chrono::seconds(2));
    Stack("kafka-stop");
    std::this_thread::sleep_for(std::chrono::seconds(2));  // rows pending for Kafka
    signalled = absl::Now();
    relay->Kill(SIGTERM);
    code = relay->Wait(std::chrono::seconds(40));
  });
  const absl::Duration took = absl::Now() - signalled;
  Stack("kafka-start");
  const std::string log = ReadFile(s.last_relay_log());
  ASSERT_TRUE(code.has_value()) << "still running 40 s after SIGTERM:\n" << log;
  EXPECT_EQ(*code, 0) << log;
  EXPECT_LT(took, absl::Seconds(25)) << log;
  EXPECT_THAT(log, ::testing::HasSubstr("is left uncommitted")) << log;
  s.Drain();  // the next relay aborts the open transaction and publishes those rows
  ExpectEachExactlyOnce(ReadAllCommitted({topic}), ids);
}

// A broker outage longer than the producer's transaction timeout, with a Kafka transaction open
// and records waiting: they time out, the transaction must abort, and the abort waits for the
// broker. Whether the coordinator ends the transaction first (then the producer fails fatally and
// is replaced: RelayE2eTest.AProducerEndedByTheBrokerIsReplacedAndTheStreamGoesOn) or the abort
// gets there first, the relay keeps running and loses nothing.
TEST(ServerFaults, AKafkaOutageLongerThanTheTransactionTimeoutIsSurvived) {
  Scenario s("routage");
  const std::string topic = UniqueName("routage_t");
  ASSERT_OK(kafka::CreateTopics(lottery::testing::KafkaBootstrap(), {{topic, 1}}));
  s.Drain();
  std::unique_ptr<Process> relay;
  bool running = false;
  std::vector<std::string> ids = UnderTrickle(s, topic, [&] {
    // A long batch window keeps a transaction open (registered with the coordinator) at the
    // moment the broker stops.
    relay = s.StartRelay({"--kafka-prop", "transaction.timeout.ms=4000", "--batch-txns", "1000000",
                          "--batch-ms", "3000"});
    std::this_thread::sleep_for(std::chrono::seconds(4));
    Stack("kafka-stop");
    std::this_thread::sleep_for(std::chrono::seconds(12));  // three transaction timeouts
    Stack("kafka-start");
    // The coordinator aborts expired transactions on its 10 s timer.
    WaitFor(
        [&] {
          return ReadFile(s.last_relay_log()).find("starting a new producer") != std::string::npos;
        },
        std::chrono::seconds(25));
    std::this_thread::sleep_for(std::chrono::seconds(3));
    running = relay->Running();
  });
  const std::string log = ReadFile(s.last_relay_log());
  EXPECT_TRUE(running) << "the relay must survive a long broker outage:\n" << log;
  EXPECT_THAT(log, ::testing::Not(::testing::HasSubstr("took over slot"))) << log;
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(60)), 0) << log;
  s.Drain();
  ExpectEachExactlyOnce(ReadAllCommitted({topic}), ids);
}

// Restores max_slot_wal_keep_size on every path out of the test.
class WalKeepSizeGuard {
 public:
  explicit WalKeepSizeGuard(TestDatabase& db) : db_(db) {
    db_.Scalar("ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'");
    db_.Scalar("SELECT pg_reload_conf()::text");
  }
  ~WalKeepSizeGuard() { Reset(); }
  void Reset() {
    if (reset_) return;
    reset_ = true;
    db_.Scalar("ALTER SYSTEM RESET max_slot_wal_keep_size");
    db_.Scalar("SELECT pg_reload_conf()::text");
  }

 private:
  TestDatabase& db_;
  bool reset_ = false;
};

TEST(ServerFaults, SlotInvalidatedThenRecoverSlotLost) {
  Scenario s("rinval");
  auto conn = s.db.Connect();
  const std::string topic = UniqueName("rinval_t");
  std::string out;
  s.Drain();  // first start: creates the slot
  std::vector<std::string> ids = InsertRows(conn.get(), topic, 5, 3);
  s.Drain();
  std::vector<std::string> before_loss = ids;
  // The relay is down; rows pile up; the slot is invalidated.
  std::vector<std::string> during = InsertRows(conn.get(), topic, 10, 3);
  s.db.Scalar("CREATE TABLE filler (b text)");
  {
    WalKeepSizeGuard guard(s.db);
    bool lost = WaitFor(
        [&] {
          s.db.Scalar(
              "INSERT INTO filler SELECT repeat(md5(g::text), 32) FROM generate_series(1, 2000) g "
              "RETURNING 1");
          s.db.Scalar("SELECT pg_switch_wal()::text");
          s.db.Scalar("CHECKPOINT");
          return s.db.Scalar("SELECT wal_status FROM pg_replication_slots WHERE slot_name = '" +
                             s.slot + "'") == "lost";
        },
        std::chrono::seconds(60));
    guard.Reset();
    ASSERT_TRUE(lost) << "the slot was not invalidated";
  }
  EXPECT_EQ(s.Cli({"status"}, &out), 2) << out;
  EXPECT_NE(s.Cli({"run"}, &out, std::chrono::seconds(60)), 0);
  EXPECT_THAT(out, ::testing::HasSubstr("lottery-cdc-relay recover --slot-lost"));
  ASSERT_EQ(s.Cli({"recover", "--slot-lost"}, &out), 0) << out;
  std::vector<std::string> after = InsertRows(conn.get(), topic, 4, 2);
  s.Drain();
  EXPECT_EQ(s.Cli({"status"}, &out), 1) << out;  // slot back; relay stopped: lagging, not lost

  std::vector<std::string> expected = before_loss;
  expected.insert(expected.end(), during.begin(), during.end());
  expected.insert(expected.end(), after.begin(), after.end());
  ExpectEachExactlyOnce(ReadAllCommitted({topic}), expected);
}

}  // namespace
}  // namespace lottery::cdc::recovery::testing
