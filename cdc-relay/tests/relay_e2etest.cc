// lottery-cdc-relay against the real PostgreSQL and Kafka: exactly-once publication with headers,
// fencing of a second relay, WAL release under foreign traffic, schema change while running, and
// the refusals that protect against silent loss.
#include <signal.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/cdc/publisher.h"
#include "lottery/common/testing/status_matchers.h"
#include "relay_test_util.h"

namespace lottery::cdc::testing {
namespace {

using lottery::testing::ExpectEachExactlyOnce;
using lottery::testing::ReadAllCommitted;
using lottery::testing::Record;
using ::testing::HasSubstr;

// librdkafka 2.0.2 with more than one request in flight can commit a transaction without a
// batch that failed with a retriable error (docs/delivery.md); the relay's producer must run with
// one, whatever --kafka-prop says.
TEST(RelayProducer, OneProduceRequestInFlightWhateverThePropertiesSay) {
  auto producer = TransactionalProducer::Create(
      {{"bootstrap.servers", lottery::testing::KafkaBootstrap()},
       {"max.in.flight.requests.per.connection", "5"}},
      TransactionalIdForSlot(lottery::testing::UniqueName("inflight")));
  ASSERT_OK(producer.status());
  char value[64];
  size_t size = sizeof(value);
  ASSERT_EQ(rd_kafka_conf_get(rd_kafka_conf((*producer)->get()),
                              "max.in.flight.requests.per.connection", value, &size),
            RD_KAFKA_CONF_OK);
  EXPECT_STREQ(value, "1");
}

TEST(RelayE2eTest, PublishesEachOutboxEventExactlyOnceWithItsHeaders) {
  RelayWorld w;
  auto relay = w.StartRelay("relay");
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30))) << w.Log("relay");
  auto conn = w.db.Connect();

  std::vector<std::string> ids;
  auto single = InsertOutbox(conn.get(), w.topic, {"agg-1"}, {"{\"n\":1}"},
                             R"({"x-trace": "t-1", "traceparent": "00-abc"})");
  auto multi = InsertOutbox(conn.get(), w.topic, {"agg-2", "agg-3", "agg-2"},
                            {"{\"n\":2}", "{\"n\":3}", "{\"n\":4}"});
  ASSERT_OK(pg::ExecCommand(conn.get(), "BEGIN"));
  auto in_txn_a = InsertOutbox(conn.get(), w.topic, {"agg-4"}, {"{\"n\":5}"});
  auto in_txn_b = InsertOutbox(conn.get(), w.topic, {"agg-4"}, {"{\"n\":6}"});
  ASSERT_OK(pg::ExecCommand(conn.get(), "COMMIT"));
  for (auto* v : {&single, &multi, &in_txn_a, &in_txn_b})
    ids.insert(ids.end(), v->begin(), v->end());

  ASSERT_TRUE(w.WaitUntilCaughtUp()) << w.Log("relay");
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(20)), 0) << w.Log("relay");

  auto records = ReadAllCommitted({w.topic});
  ExpectEachExactlyOnce(records, ids);
  std::map<std::string, const Record*> by_id;
  for (const auto& r : records) by_id[*r.Header("id")] = &r;
  ASSERT_EQ(by_id.size(), ids.size());

  const Record& first = *by_id[single[0]];
  EXPECT_EQ(first.key, "agg-1");
  EXPECT_EQ(first.value, "{\"n\":1}");
  EXPECT_EQ(first.Header("messageType"), "lotteryAwardCreated");
  EXPECT_EQ(first.Header("aggregatetype"), "award");
  EXPECT_EQ(first.Header("content-type"), "application/json");
  EXPECT_EQ(first.Header("x-trace"), "t-1");
  EXPECT_EQ(first.Header("traceparent"), "00-abc");
  ASSERT_TRUE(first.Header("lsn").has_value());
  EXPECT_TRUE(ParseLsn(*first.Header("lsn")).ok());

  // The rows of one statement share one commit LSN; the two statements of one transaction too.
  std::set<std::string> multi_lsns, txn_lsns;
  for (const auto& id : multi) multi_lsns.insert(*by_id[id]->Header("lsn"));
  txn_lsns.insert(*by_id[in_txn_a[0]]->Header("lsn"));
  txn_lsns.insert(*by_id[in_txn_b[0]]->Header("lsn"));
  EXPECT_EQ(multi_lsns.size(), 1u);
  EXPECT_EQ(txn_lsns.size(), 1u);
  EXPECT_LT(*ParseLsn(*first.Header("lsn")), *ParseLsn(*multi_lsns.begin()));

  // Per key, Kafka order is commit order (agg-2: n=2 before n=4; agg-4: n=5 before n=6).
  std::map<std::string, std::vector<std::string>> values_by_key;
  for (const auto& r : records) values_by_key[*r.key].push_back(r.value);
  EXPECT_THAT(values_by_key["agg-2"], ::testing::ElementsAre("{\"n\":2}", "{\"n\":4}"));
  EXPECT_THAT(values_by_key["agg-4"], ::testing::ElementsAre("{\"n\":5}", "{\"n\":6}"));

  // A restart on the same slot publishes nothing again.
  auto again = w.StartRelay("relay2", {"--exit-when-idle", "1500"});
  EXPECT_EQ(again->Wait(std::chrono::seconds(60)), 0) << w.Log("relay2");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

TEST(RelayE2eTest, ASecondRelayOnTheSameSlotFencesTheFirstWithoutDuplicates) {
  RelayWorld w;
  auto first = w.StartRelay("first");
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30))) << w.Log("first");

  Trickle trickle(w, 7, std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto second = w.StartRelay("second");
  // The first is fenced at its next Kafka transaction and must stop, saying why.
  auto first_exit = first->Wait(std::chrono::seconds(60));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<std::string> ids = trickle.Stop();
  ASSERT_TRUE(first_exit.has_value()) << "the fenced relay kept running\n" << w.Log("first");
  EXPECT_NE(*first_exit, 0);
  EXPECT_THAT(w.Log("first"), HasSubstr("fenced: another lottery-cdc-relay took over slot"))
      << w.Log("first");

  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("second");
  second->Kill(SIGTERM);
  EXPECT_EQ(second->Wait(std::chrono::seconds(20)), 0) << w.Log("second");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

// --group-commit true (off by default): batches commit once the stream is drained. A steady
// trickle, a SIGKILL mid-stream and a restart still give every event exactly once.
TEST(RelayE2eTest, GroupCommitKeepsExactlyOnceAcrossAKill) {
  RelayWorld w;
  auto first = w.StartRelay("gc1", {"--group-commit", "true"});
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30))) << w.Log("gc1");
  Trickle trickle(w, 3, std::chrono::milliseconds(2));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  first->Kill(SIGKILL);
  first->Wait(std::chrono::seconds(10));
  auto second = w.StartRelay("gc2", {"--group-commit", "true"});
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::vector<std::string> ids = trickle.Stop();
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("gc2");
  EXPECT_THAT(w.Log("gc1"), HasSubstr("group commit"));
  second->Kill(SIGTERM);
  EXPECT_EQ(second->Wait(std::chrono::seconds(20)), 0) << w.Log("gc2");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

// The first relay loses its replication connection while a second one fences it and takes the
// slot. With nothing to commit, its producer never learns it was fenced; the busy slot and the
// second relay's claim tell it, and it stops promptly, naming the other relay (it used to retry
// START_REPLICATION for as long as the second one ran, then exit 0).
TEST(RelayE2eTest, AFencedRelayWhoseSlotIsTakenStopsAndNamesTheOther) {
  RelayWorld w;
  auto first = w.StartRelay("first");
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("first");
  auto second = w.StartRelay("second");
  ASSERT_TRUE(WaitFor([&] { return w.Log("second").find("claimed by") != std::string::npos; },
                      std::chrono::seconds(30)))
      << w.Log("second");
  // Drop the first relay's walsender: both now race for the slot.
  w.db.Scalar(absl::StrCat(
      "SELECT pg_terminate_backend(active_pid)::text FROM pg_replication_slots WHERE slot_name = '",
      w.slot, "'"));
  auto conn = w.db.Connect();
  std::vector<std::string> ids;
  std::optional<int> first_exit;
  for (int i = 0; i < 60 && !first_exit; ++i) {
    auto got = InsertOutbox(conn.get(), w.topic, {absl::StrCat("k", i)}, {absl::StrCat(i)});
    ids.insert(ids.end(), got.begin(), got.end());
    first_exit = first->Wait(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(first_exit.has_value()) << "the fenced relay kept running\n" << w.Log("first");
  EXPECT_EQ(*first_exit, 1) << w.Log("first");
  EXPECT_THAT(w.Log("first"), HasSubstr("fenced: another lottery-cdc-relay took over slot"));
  EXPECT_THAT(w.Log("first"), HasSubstr(absl::StrCat("(pid ", second->pid(), " on ")));
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("second");
  second->Kill(SIGTERM);
  EXPECT_EQ(second->Wait(std::chrono::seconds(20)), 0) << w.Log("second");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

// Nothing is written to the outbox when a second relay starts: the first relay, idle, produces
// nothing and holds the slot. It reads the claim while idle, sees the takeover and gives the slot
// up, so the second one streams without waiting for the next outbox row.
TEST(RelayE2eTest, AnIdleFencedRelayGivesTheSlotUp) {
  RelayWorld w;
  auto first = w.StartRelay("first");
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("first");
  auto second = w.StartRelay("second");
  auto first_exit = first->Wait(std::chrono::seconds(45));
  ASSERT_TRUE(first_exit.has_value()) << "the idle fenced relay kept the slot\n" << w.Log("first");
  EXPECT_EQ(*first_exit, 1) << w.Log("first");
  EXPECT_THAT(w.Log("first"), HasSubstr("fenced: another lottery-cdc-relay took over slot"));
  auto conn = w.db.Connect();
  std::vector<std::string> ids = InsertOutbox(conn.get(), w.topic, {"a", "b"}, {"1", "2"});
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("second");
  second->Kill(SIGTERM);
  EXPECT_EQ(second->Wait(std::chrono::seconds(20)), 0) << w.Log("second");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

// Something other than a relay bumps the producer's epoch, as the transaction coordinator does
// when a transaction outlives transaction.timeout.ms during a broker outage: the relay's producer
// fails fatally, no other relay claimed the slot, so it starts a new producer and goes on.
TEST(RelayE2eTest, AProducerEndedByTheBrokerIsReplacedAndTheStreamGoesOn) {
  RelayWorld w;
  auto relay = w.StartRelay("relay");
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("relay");
  Trickle trickle(w, 5, std::chrono::milliseconds(5));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  {
    auto bump = TransactionalProducer::Create({{"bootstrap.servers", KafkaBootstrap()}},
                                              TransactionalIdForSlot(w.slot));
    ASSERT_OK(bump.status());
  }
  bool replaced =
      WaitFor([&] { return w.Log("relay").find("starting a new producer") != std::string::npos; },
              std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  std::vector<std::string> ids = trickle.Stop();
  EXPECT_TRUE(replaced) << w.Log("relay");
  ASSERT_TRUE(relay->Running()) << w.Log("relay");
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("relay");
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(20)), 0) << w.Log("relay");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

TEST(RelayE2eTest, SigtermDuringAStreamFinishesTheOpenTransactionAndExitsZero) {
  RelayWorld w;
  auto relay = w.StartRelay("relay", {"--batch-ms", "200"});  // a batch is open most of the time
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30))) << w.Log("relay");
  Trickle trickle(w, 3, std::chrono::milliseconds(3));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  relay->Kill(SIGTERM);
  auto code = relay->Wait(std::chrono::seconds(20));
  std::vector<std::string> ids = trickle.Stop();
  EXPECT_EQ(code, 0) << w.Log("relay");
  // The open Kafka transaction was committed and then confirmed: the slot stands at (or, through
  // an idle keepalive, past) the last published commit.
  Lsn confirmed = w.ConfirmedFlush();
  Lsn max_published = 0;
  for (const auto& r : ReadAllCommitted({w.topic})) {
    max_published = std::max(max_published, *ParseLsn(*r.Header("lsn")));
  }
  EXPECT_GT(max_published, 0u);
  EXPECT_GE(confirmed, max_published) << w.Log("relay");
  // What it confirmed is in Kafka; a new relay drains the rest without repeating anything.
  auto drain = w.StartRelay("drain", {"--end-lsn", FormatLsn(w.CurrentWalLsn())});
  EXPECT_EQ(drain->Wait(std::chrono::seconds(60)), 0) << w.Log("drain");
  SCOPED_TRACE(absl::StrCat("slot confirmed ", FormatLsn(w.ConfirmedFlush()), " after the drain\n",
                            w.Log("relay"), w.Log("drain")));
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

TEST(RelayE2eTest, TrafficOutsideThePublicationIsNotPublishedAndDoesNotPinWal) {
  RelayWorld w;
  auto conn = w.db.Connect();
  ASSERT_OK(pg::ExecCommand(conn.get(), "CREATE TABLE busy (id bigserial PRIMARY KEY, v text)"));
  auto relay = w.StartRelay("relay");
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30))) << w.Log("relay");
  auto ids = InsertOutbox(conn.get(), w.topic, {"only"}, {"one"});
  ASSERT_TRUE(w.WaitUntilCaughtUp()) << w.Log("relay");

  // A busy table outside the publication, while the outbox is quiet: the slot must still move.
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(pg::ExecCommand(conn.get(),
                              "INSERT INTO busy (v) SELECT repeat('x', 200) FROM "
                              "generate_series(1, 2000)"));
  }
  Lsn after_traffic = w.CurrentWalLsn();
  EXPECT_TRUE(
      WaitFor([&] { return w.ConfirmedFlush() >= after_traffic; }, std::chrono::seconds(20)))
      << "confirmed_flush_lsn " << FormatLsn(w.ConfirmedFlush()) << " stuck below "
      << FormatLsn(after_traffic) << "\n"
      << w.Log("relay");
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(20)), 0) << w.Log("relay");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

TEST(RelayE2eTest, SurvivesItsReplicationConnectionBeingKilledAndServesMetrics) {
  RelayWorld w;
  int port = lottery::testing::FreePort();  // a fixed guess collided with a busy port in CI
  auto relay = w.StartRelay(
      "relay", {"--log-level", "debug", "--metrics-addr", absl::StrCat("127.0.0.1:", port)});
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30))) << w.Log("relay");
  httplib::Client http("127.0.0.1", port);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http.Get("/readyz");
        return r && r->status == 200;
      },
      std::chrono::seconds(30)))
      << w.Log("relay");

  Trickle trickle(w, 5, std::chrono::milliseconds(5));
  auto admin = w.db.Connect();
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    // PostgreSQL drops the walsender (as on a restart or network cut): reconnect and resume.
    ASSERT_OK(pg::ExecCommand(admin.get(),
                              "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                              "WHERE slot_name = $1 AND active_pid IS NOT NULL",
                              {pg::Param::Text(w.slot)}));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  std::vector<std::string> ids = trickle.Stop();
  ASSERT_TRUE(w.WaitUntilCaughtUp()) << w.Log("relay");
  EXPECT_TRUE(relay->Running()) << w.Log("relay");

  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("lottery_relay_events_published_total"));
  EXPECT_THAT(metrics->body, HasSubstr("lottery_relay_kafka_commit_seconds_bucket"));
  EXPECT_THAT(metrics->body, HasSubstr("lottery_relay_slot_retained_wal_bytes"));
  EXPECT_THAT(metrics->body, ::testing::Not(HasSubstr("lottery_relay_reconnects_total 0\n")));
  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(20)), 0) << w.Log("relay");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

TEST(RelayE2eTest, AColumnAddedToTheOutboxWhileRunning) {
  RelayWorld w;
  auto relay = w.StartRelay("relay");
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30))) << w.Log("relay");
  auto conn = w.db.Connect();
  auto ids = InsertOutbox(conn.get(), w.topic, {"a", "b"}, {"1", "2"});
  ASSERT_TRUE(w.WaitUntilCaughtUp()) << w.Log("relay");
  ASSERT_OK(pg::ExecCommand(conn.get(),
                            "ALTER TABLE outbox ADD COLUMN tenant text NOT NULL DEFAULT 'main'"));
  ASSERT_OK(pg::ExecCommand(conn.get(), "BEGIN"));
  auto more = InsertOutbox(conn.get(), w.topic, {"a"}, {"3"});
  ASSERT_OK(pg::ExecCommand(conn.get(),
                            "ALTER TABLE outbox ADD COLUMN region text"));  // mid-transaction
  auto even_more = InsertOutbox(conn.get(), w.topic, {"b"}, {"4"});
  ASSERT_OK(pg::ExecCommand(conn.get(), "COMMIT"));
  ids.insert(ids.end(), more.begin(), more.end());
  ids.insert(ids.end(), even_more.begin(), even_more.end());
  ASSERT_TRUE(w.WaitUntilCaughtUp()) << w.Log("relay");
  EXPECT_TRUE(relay->Running()) << w.Log("relay");
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(20)), 0) << w.Log("relay");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

TEST(RelayE2eTest, ALostSlotWithACheckpointStopsAndNamesTheRecoverCommand) {
  RelayWorld w;
  auto relay = w.StartRelay("relay");
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(30))) << w.Log("relay");
  auto conn = w.db.Connect();
  InsertOutbox(conn.get(), w.topic, {"a"}, {"1"});
  ASSERT_TRUE(w.WaitUntilCaughtUp()) << w.Log("relay");
  relay->Kill(SIGTERM);
  ASSERT_EQ(relay->Wait(std::chrono::seconds(20)), 0) << w.Log("relay");

  ASSERT_OK(pg::ExecCommand(conn.get(), "SELECT pg_drop_replication_slot($1)",
                            {pg::Param::Text(w.slot)}));
  auto again = w.StartRelay("again");
  auto code = again->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.has_value()) << w.Log("again");
  EXPECT_NE(*code, 0);
  EXPECT_THAT(w.Log("again"), HasSubstr("lottery-cdc-relay recover --slot-lost"));
  EXPECT_FALSE(w.SlotExists()) << "the relay must not create a fresh slot and skip the gap";
}

TEST(RelayE2eTest, ACheckpointFromAnotherClusterIsRefused) {
  RelayWorld w;
  ASSERT_OK(pg::ExecCommand(w.db.Connect().get(),
                            "SELECT pg_create_logical_replication_slot($1, 'pgoutput')",
                            {pg::Param::Text(w.slot)}));
  Checkpoint foreign;
  foreign.slot = w.slot;
  foreign.lsn = 1;
  foreign.system_id = "1234567890";
  ASSERT_OK(EnsureCheckpointTopic(KafkaBootstrap(), w.checkpoint_topic));
  lottery::testing::ProduceAll({{w.checkpoint_topic, w.slot, EncodeCheckpoint(foreign), {}, -1}});
  auto relay = w.StartRelay("relay");
  auto code = relay->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.has_value()) << w.Log("relay");
  EXPECT_NE(*code, 0);
  EXPECT_THAT(w.Log("relay"), HasSubstr("was written from PostgreSQL system 1234567890"));
}

TEST(RelayE2eTest, AMissingPublicationIsAClearError) {
  RelayWorld w;
  ASSERT_OK(pg::ExecCommand(w.db.Connect().get(), "DROP PUBLICATION lottery_outbox"));
  auto relay = w.StartRelay("relay");
  auto code = relay->Wait(std::chrono::seconds(60));
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_THAT(w.Log("relay"), HasSubstr("lottery-migrate"));
}

}  // namespace
}  // namespace lottery::cdc::testing
