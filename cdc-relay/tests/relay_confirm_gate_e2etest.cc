// The relay confirms an LSN to PostgreSQL only once Kafka shows the records of its transaction as
// stable (confirm_gate.h), against the real broker. An open transaction of another producer on the
// same partition holds that partition's last stable offset below the relay's records, as a commit
// whose markers were never written does (docs/delivery.md, "Known gap").
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "lottery/common/kafka.h"
#include "lottery/common/testing/status_matchers.h"
#include "relay_test_util.h"

namespace lottery::cdc::testing {
namespace {

using lottery::testing::ExpectEachExactlyOnce;
using lottery::testing::ReadAllCommitted;

kafka::KafkaPtr Client(rd_kafka_type_t type, kafka::Properties props) {
  props["bootstrap.servers"] = KafkaBootstrap();
  auto conf = kafka::MakeConf(props);
  EXPECT_TRUE(conf.ok()) << conf.status();
  auto rk = kafka::MakeClient(type, std::move(*conf));
  EXPECT_TRUE(rk.ok()) << rk.status();
  return std::move(*rk);
}

int64_t HighWatermark(rd_kafka_t* rk, const std::string& topic) {
  int64_t low = -1, high = -1;
  rd_kafka_query_watermark_offsets(rk, topic.c_str(), 0, &low, &high, 5000);
  return high;
}

TEST(RelayConfirmGate, AnLsnWaitsUntilKafkaShowsItsRecordsAsStable) {
  RelayWorld w("rgate");
  ASSERT_OK(kafka::CreateTopics(KafkaBootstrap(), {{w.topic, 1}}));

  // Another producer's transaction, open on the relay's partition: nothing after its first
  // record is stable until it ends.
  kafka::KafkaPtr other = Client(RD_KAFKA_PRODUCER, {{"transactional.id", w.slot + ".other"}});
  kafka::ErrorPtr err(rd_kafka_init_transactions(other.get(), 30000));
  ASSERT_EQ(err, nullptr) << rd_kafka_error_string(err.get());
  err.reset(rd_kafka_begin_transaction(other.get()));
  ASSERT_EQ(err, nullptr);
  ASSERT_EQ(
      rd_kafka_producev(other.get(), RD_KAFKA_V_TOPIC(w.topic.c_str()), RD_KAFKA_V_PARTITION(0),
                        RD_KAFKA_V_VALUE(const_cast<char*>("open"), 4), RD_KAFKA_V_END),
      RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_flush(other.get(), 10000), RD_KAFKA_RESP_ERR_NO_ERROR);

  auto relay = w.StartRelay("relay");
  ASSERT_TRUE(w.WaitUntilCaughtUp()) << w.Log("relay");  // nothing published yet: confirms
  auto conn = w.db.Connect();
  auto ids = InsertOutbox(conn.get(), w.topic, {"agg-1", "agg-2"}, {"{\"n\":1}", "{\"n\":2}"});
  const Lsn after_insert = w.CurrentWalLsn();

  // The relay's transaction committed: its two records and its marker follow the open record.
  kafka::KafkaPtr uncommitted =
      Client(RD_KAFKA_CONSUMER, {{"isolation.level", "read_uncommitted"}});
  ASSERT_TRUE(WaitFor([&] { return HighWatermark(uncommitted.get(), w.topic) >= 4; },
                      std::chrono::seconds(30)))
      << w.Log("relay");
  // Several status intervals (1 s): commit_transaction returned OK, and still the LSN of the
  // rows, and anything after it, stays unconfirmed.
  std::this_thread::sleep_for(std::chrono::seconds(4));
  EXPECT_LT(w.ConfirmedFlush(), after_insert) << w.Log("relay");
  EXPECT_EQ(w.db.Scalar(absl::StrCat("SELECT count(*) FROM outbox")), "2");

  // The other transaction ends: the records are stable, the LSN is confirmed, the events are
  // there once.
  err.reset(rd_kafka_abort_transaction(other.get(), 30000));
  ASSERT_EQ(err, nullptr) << rd_kafka_error_string(err.get());
  EXPECT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(15))) << w.Log("relay");
  EXPECT_GE(w.ConfirmedFlush(), after_insert);
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(20)), 0) << w.Log("relay");
  ExpectEachExactlyOnce(ReadAllCommitted({w.topic}), ids);
}

}  // namespace
}  // namespace lottery::cdc::testing
