// The broker is real and enforces transactions: a transactional producer commits one record and
// aborts another; a read_committed consumer sees exactly the committed one.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/kafka.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/testing/stack.h"

namespace lottery {
namespace {

using ::lottery::testing::KafkaBootstrap;
using ::lottery::testing::UniqueName;

void Produce(rd_kafka_t* rk, const std::string& topic, const std::string& value) {
  ASSERT_OK(kafka::Produce(rk, {.topic = topic, .value = value, .partition = 0}));
}

TEST(BrokerTest, ReadCommittedSeesOnlyCommittedTransactions) {
  const std::string topic = UniqueName("txn_probe");
  ASSERT_OK(kafka::CreateTopics(KafkaBootstrap(), {{topic, 1}}));
  auto conf = kafka::MakeConf({{"bootstrap.servers", KafkaBootstrap()},
                               {"transactional.id", UniqueName("txn_probe_producer")}});
  ASSERT_OK(conf);
  auto producer = kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_OK(producer);
  rd_kafka_t* rk = producer->get();
  ASSERT_OK(kafka::StatusFromError(rd_kafka_init_transactions(rk, 30000), "init"));

  ASSERT_OK(kafka::StatusFromError(rd_kafka_begin_transaction(rk), "begin"));
  Produce(rk, topic, "committed");
  ASSERT_OK(kafka::StatusFromError(rd_kafka_commit_transaction(rk, 30000), "commit"));

  ASSERT_OK(kafka::StatusFromError(rd_kafka_begin_transaction(rk), "begin"));
  Produce(rk, topic, "aborted");
  ASSERT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);  // the record reaches the log
  ASSERT_OK(kafka::StatusFromError(rd_kafka_abort_transaction(rk, 30000), "abort"));

  ASSERT_OK(kafka::StatusFromError(rd_kafka_begin_transaction(rk), "begin"));
  Produce(rk, topic, "committed-2");
  ASSERT_OK(kafka::StatusFromError(rd_kafka_commit_transaction(rk, 30000), "commit"));

  auto records = testing::ReadAllCommitted({topic});
  std::vector<std::string> values;
  for (const auto& r : records) values.push_back(r.value);
  EXPECT_THAT(values, ::testing::ElementsAre("committed", "committed-2"));
  // The aborted record is physically in the log (offsets 0..: data, marker, aborted, marker, ...):
  // read_committed hid it, which is what the relay's exactly-once rests on.
  ASSERT_EQ(records.size(), 2u);
  EXPECT_GT(records[1].offset - records[0].offset, 2);
}

TEST(BrokerTest, SecondProducerWithSameTransactionalIdFencesTheFirst) {
  const std::string topic = UniqueName("fence_probe");
  const std::string txn_id = UniqueName("fence_probe_producer");
  ASSERT_OK(kafka::CreateTopics(KafkaBootstrap(), {{topic, 1}}));
  auto make = [&] {
    auto conf =
        kafka::MakeConf({{"bootstrap.servers", KafkaBootstrap()}, {"transactional.id", txn_id}});
    EXPECT_OK(conf);
    auto p = kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
    EXPECT_OK(p);
    return std::move(*p);
  };
  kafka::KafkaPtr first = make();
  ASSERT_OK(kafka::StatusFromError(rd_kafka_init_transactions(first.get(), 30000), "init first"));
  ASSERT_OK(kafka::StatusFromError(rd_kafka_begin_transaction(first.get()), "begin first"));
  Produce(first.get(), topic, "zombie");
  kafka::KafkaPtr second = make();
  ASSERT_OK(kafka::StatusFromError(rd_kafka_init_transactions(second.get(), 30000), "init second"));
  absl::Status st =
      kafka::StatusFromError(rd_kafka_commit_transaction(first.get(), 30000), "commit first");
  EXPECT_FALSE(st.ok());
  EXPECT_TRUE(testing::ReadAllCommitted({topic}).empty());
}

}  // namespace
}  // namespace lottery
