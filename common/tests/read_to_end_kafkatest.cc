// kafka::ReadToEnd against the real broker: where the read ends, and what it does with a
// transaction that is still open (the marker grace).
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lottery/common/kafka.h"
#include "lottery/testing/stack.h"

namespace lottery::kafka {
namespace {

using Clock = std::chrono::steady_clock;
using lottery::testing::KafkaBootstrap;
using lottery::testing::UniqueName;

// A transactional producer with a transaction begun (and not ended) after `committed` records
// were committed to `topic`.
KafkaPtr ProducerWithOpenTxn(const std::string& topic, int committed, int open) {
  auto conf = MakeConf({{"bootstrap.servers", KafkaBootstrap()},
                        {"transactional.id", UniqueName("read_to_end_txn")}});
  EXPECT_TRUE(conf.ok()) << conf.status();
  auto rk = MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  EXPECT_TRUE(rk.ok()) << rk.status();
  rd_kafka_t* p = rk->get();
  auto ok = [](rd_kafka_error_t* e, const char* what) {
    ErrorPtr err(e);
    EXPECT_EQ(err, nullptr) << what << ": " << StatusFromError(err.get(), what);
  };
  ok(rd_kafka_init_transactions(p, 30000), "init_transactions");
  auto produce = [&](int n, const char* tag) {
    for (int i = 0; i < n; ++i) {
      std::string value = absl::StrCat(tag, i);
      OutRecord record;
      record.topic = topic;
      record.value = value;
      record.partition = 0;
      EXPECT_TRUE(Produce(p, record).ok());
    }
    EXPECT_EQ(rd_kafka_flush(p, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  };
  ok(rd_kafka_begin_transaction(p), "begin_transaction");
  produce(committed, "committed-");
  ok(rd_kafka_commit_transaction(p, 30000), "commit_transaction");
  ok(rd_kafka_begin_transaction(p), "begin_transaction");
  produce(open, "open-");  // flushed: past the high watermark, not committed
  return std::move(*rk);
}

std::vector<std::string> Read(const std::string& topic, std::chrono::milliseconds grace,
                              absl::Status* status, std::chrono::milliseconds* took) {
  std::vector<std::string> values;
  ReadToEndOptions o;
  o.client = {{"bootstrap.servers", KafkaBootstrap()}};
  o.group_id = UniqueName("read_to_end");
  o.timeout = std::chrono::seconds(20);
  o.marker_grace = grace;
  Clock::time_point start = Clock::now();
  *status = ReadToEnd({topic}, o, [&](const rd_kafka_message_t& m) {
    values.emplace_back(static_cast<const char*>(m.payload), m.len);
    return absl::OkStatus();
  });
  *took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return values;
}

class ReadToEndTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(CreateTopics(KafkaBootstrap(), {{topic_, 1}}).ok()); }
  std::string topic_ = UniqueName("read_to_end");
};

// An open transaction holds read_committed's end (the last stable offset) below the high
// watermark. With a grace the reader waits for markers up to the grace, then leaves the open
// transaction behind: it returns what was committed, neither hanging until its timeout nor
// reading uncommitted records.
TEST_F(ReadToEndTest, LeavesAnOpenTransactionBehindAfterTheGrace) {
  KafkaPtr producer = ProducerWithOpenTxn(topic_, 3, 2);
  absl::Status st;
  std::chrono::milliseconds took{};
  std::vector<std::string> got = Read(topic_, std::chrono::seconds(2), &st, &took);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(got, (std::vector<std::string>{"committed-0", "committed-1", "committed-2"}));
  EXPECT_GE(took, std::chrono::seconds(2)) << "it waited for the open transaction's markers";
  EXPECT_LT(took, std::chrono::seconds(15)) << "it ran into its timeout instead";

  // Once committed, the same records are read, and the read ends at once.
  ErrorPtr err(rd_kafka_commit_transaction(producer.get(), 30000));
  ASSERT_EQ(err, nullptr) << StatusFromError(err.get(), "commit");
  got = Read(topic_, std::chrono::seconds(2), &st, &took);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ(got.back(), "open-1");
}

// Without a grace the end is the last stable offset: the committed records, at once.
TEST_F(ReadToEndTest, WithoutAGraceEndsAtTheLastStableOffset) {
  KafkaPtr producer = ProducerWithOpenTxn(topic_, 3, 2);
  absl::Status st;
  std::chrono::milliseconds took{};
  std::vector<std::string> got = Read(topic_, std::chrono::milliseconds(0), &st, &took);
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(got, (std::vector<std::string>{"committed-0", "committed-1", "committed-2"}));
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST(ReadToEnd, ATopicThatDoesNotExistHoldsNothing) {
  absl::Status st;
  std::chrono::milliseconds took{};
  EXPECT_TRUE(Read(UniqueName("read_to_end_missing"), std::chrono::seconds(1), &st, &took).empty());
  EXPECT_TRUE(st.ok()) << st;
}

}  // namespace
}  // namespace lottery::kafka
