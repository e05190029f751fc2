// Which outbox rows can never be Kafka records, and the dead letter written in their place.
#include "lottery/cdc/record_guard.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lottery::cdc {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

OutboxEvent Event() {
  OutboxEvent e;
  e.id = "6f1c8a52-7d0e-4f8e-9a51-2c3b4d5e6f70";
  e.aggregatetype = "award";
  e.aggregateid = "lottery-1";
  e.type = "lotteryAwardCreated";
  e.topic = "lottery.v1.award";
  e.content_type = "application/json";
  e.payload = "{}";
  e.seq = 42;
  e.txid = "777";
  return e;
}

TEST(RecordGuardTest, KafkaTopicNameRule) {
  for (const char* ok : {"lottery.v1.award", "a", "A-b_c.9"}) EXPECT_TRUE(IsValidTopicName(ok));
  for (std::string bad :
       {std::string(), std::string("has space"), std::string("."), std::string(".."),
        std::string(250, 'a'), std::string("t\xc3\xa9"), std::string("a/b")}) {
    EXPECT_FALSE(IsValidTopicName(bad)) << bad;
  }
  EXPECT_TRUE(IsValidTopicName(std::string(249, 'a')));
}

TEST(RecordGuardTest, AGoodEventPasses) { EXPECT_TRUE(CheckRecord(Event(), 1'000'000).ok()); }

TEST(RecordGuardTest, EachUnpublishableKindIsNamed) {
  OutboxEvent e = Event();
  e.topic = "bad topic";
  EXPECT_EQ(CheckRecord(e, 1'000'000).error, RecordError::kInvalidTopic);
  EXPECT_THAT(CheckRecord(e, 1'000'000).detail, HasSubstr("bad topic"));

  e = Event();
  e.payload = std::string(1'030'000, 'x');
  EXPECT_EQ(CheckRecord(e, 1'000'000).error, RecordError::kTooLarge);
  e.payload = std::string(999'000, 'x');
  EXPECT_EQ(CheckRecord(e, 1'000'000).error, RecordError::kNone);

  e = Event();
  e.bad_headers = "headers: not a JSON object";
  EXPECT_EQ(CheckRecord(e, 1'000'000).error, RecordError::kBadHeaders);

  for (const char* reserved :
       {"id", "messageType", "aggregatetype", "content-type", "lsn", "txid"}) {
    e = Event();
    e.headers = {{"x-trace", "t"}, {reserved, "forged"}};
    EXPECT_EQ(CheckRecord(e, 1'000'000).error, RecordError::kReservedHeader) << reserved;
  }
}

TEST(RecordGuardTest, TheDeadLetterNamesTheRowAndAlwaysFits) {
  OutboxEvent e = Event();
  e.topic = std::string(300, 'T');
  e.aggregateid = std::string(10'000, 'k');
  e.payload = std::string(10'000'000, 'p');
  RecordCheck why = CheckRecord(e, 1'000'000);
  ASSERT_EQ(why.error, RecordError::kInvalidTopic);
  KafkaRecord r = DeadLetterRecord(e, 0x16B3748, why, "lottery.relay.dlq", 1'000'000);
  EXPECT_EQ(r.topic, "lottery.relay.dlq");
  EXPECT_LE(RecordSize(r.key, r.value, r.headers), 1'000'000u);
  EXPECT_GT(r.value.size(), 900'000u);  // as much of the payload as fits
  EXPECT_THAT(r.headers, Contains(Pair("id", e.id)));
  EXPECT_THAT(r.headers, Contains(Pair("seq", "42")));
  EXPECT_THAT(r.headers, Contains(Pair("lsn", "0/16B3748")));
  EXPECT_THAT(r.headers, Contains(Pair("original-topic", std::string(300, 'T'))));
  EXPECT_THAT(r.headers, Contains(Pair("error", "invalid_topic")));
  EXPECT_THAT(r.headers, Contains(Pair("payload-length", "10000000")));
  EXPECT_THAT(r.headers, Contains(Pair("payload-truncated", "true")));

  e = Event();
  r = DeadLetterRecord(e, 1, {RecordError::kBadHeaders, "x"}, "dlq", 1'000'000);
  EXPECT_EQ(r.value, "{}");
  EXPECT_THAT(r.headers, Contains(Pair("payload-truncated", "false")));
}

}  // namespace
}  // namespace lottery::cdc
