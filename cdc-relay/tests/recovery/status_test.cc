// The pure parts of the recovery commands: the status verdict and the dry run's JSON lines.
#include "lottery/cdc/recovery/status.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/cdc/recovery/replay.h"
#include "lottery/v1/award.pb.h"
#include "simdjson.h"

namespace lottery::cdc::recovery {
namespace {

StatusReport Healthy() {
  StatusReport r;
  r.slot.exists = true;
  r.slot.active = true;
  r.slot.wal_status = "reserved";
  r.slot.current_wal_lsn = 1000;
  r.slot.confirmed_flush_lsn = 900;
  r.checkpoint = Checkpoint{.slot = "s", .lsn = 800, .system_id = "7"};
  r.server_system_id = "7";
  return r;
}

Verdict JudgeOf(StatusReport r, int64_t max_lag = 1 << 20) {
  Judge(r, StatusLimits{max_lag});
  return r.verdict;
}

TEST(StatusVerdict, EachSituationHasItsVerdictAndExitCode) {
  EXPECT_EQ(JudgeOf(Healthy()), Verdict::kHealthy);
  EXPECT_EQ(JudgeOf(Healthy(), 50), Verdict::kLagging);  // lag 100 > 50

  StatusReport inactive = Healthy();
  inactive.slot.active = false;
  EXPECT_EQ(JudgeOf(inactive), Verdict::kLagging);

  StatusReport unreserved = Healthy();
  unreserved.slot.wal_status = "unreserved";
  EXPECT_EQ(JudgeOf(unreserved), Verdict::kLagging);

  StatusReport lost = Healthy();
  lost.slot.wal_status = "lost";
  EXPECT_EQ(JudgeOf(lost), Verdict::kSlotLost);

  StatusReport missing = Healthy();
  missing.slot.exists = false;
  EXPECT_EQ(JudgeOf(missing), Verdict::kSlotLost);
  missing.checkpoint.reset();
  EXPECT_EQ(JudgeOf(missing), Verdict::kNeverStarted);

  StatusReport ahead = Healthy();
  ahead.checkpoint->lsn = 5000;  // beyond the server's WAL: restored database
  EXPECT_EQ(JudgeOf(ahead), Verdict::kCheckpointAhead);
  StatusReport other_cluster = Healthy();
  other_cluster.server_system_id = "8";  // failover to a new cluster
  EXPECT_EQ(JudgeOf(other_cluster), Verdict::kCheckpointAhead);

  StatusReport unfinished = Healthy();
  unfinished.recovery_progress = R"({"run_id":"r","done":false})";
  EXPECT_EQ(JudgeOf(unfinished), Verdict::kLagging);
  // The record is parsed, not searched: any spelling of the same JSON means the same.
  unfinished.recovery_progress = R"({ "run_id": "r", "done" : false })";
  EXPECT_EQ(JudgeOf(unfinished), Verdict::kLagging);
  unfinished.recovery_progress = R"({"run_id":"r","note":"\"done\":false","done":true})";
  EXPECT_EQ(JudgeOf(unfinished), Verdict::kHealthy);
  unfinished.recovery_progress = "not json";  // unreadable: run recover again
  EXPECT_EQ(JudgeOf(unfinished), Verdict::kLagging);

  StatusReport unknown;
  unknown.reason = "PostgreSQL: connection refused";
  EXPECT_EQ(JudgeOf(unknown), Verdict::kUnknown);

  EXPECT_EQ(static_cast<int>(Verdict::kHealthy), 0);
}

TEST(StatusVerdict, JsonIsValid) {
  StatusReport r = Healthy();
  Judge(r, StatusLimits{});
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string json = StatusJson(r);
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_EQ(std::string(doc["verdict"].get_string().value()), "healthy");
  EXPECT_EQ(doc["lag_bytes"].get_int64().value(), 100);
  // The recovery record is embedded as an object; strings with quotes and control bytes stay JSON.
  r.recovery_progress = R"({"run_id":"r","done":true})";
  r.reason = "a \"quoted\"\nreason\x01";
  json = StatusJson(r);
  ASSERT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  EXPECT_TRUE(doc["recovery"]["done"].get_bool().value());
  EXPECT_EQ(std::string(doc["reason"].get_string().value()), "a \"quoted\"\nreason\x01");
}

TEST(ReplayJson, ProtobufPayloadInTheJsonMappingOtherwiseBase64) {
  lottery::v1::AwardCreated award;
  award.set_lottery_id("L-1");
  award.set_win_sum_minor(12345);
  ReplayedEvent e;
  e.commit_lsn = 0x16B3748;
  e.event.id = "id\"1";
  e.event.topic = "lottery.v1.award";
  e.event.content_type = "application/x-protobuf; messageType=lottery.v1.AwardCreated";
  e.event.payload = award.SerializeAsString();
  e.event.headers = {{"k", "v\n"}};
  auto json = ReplayedEventJson(e);
  ASSERT_TRUE(json.ok()) << json.status();
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_EQ(parser.parse(*json).get(doc), simdjson::SUCCESS) << *json;
  EXPECT_EQ(std::string(doc["lsn"].get_string().value()), "0/16B3748");
  EXPECT_EQ(std::string(doc["id"].get_string().value()), "id\"1");
  EXPECT_EQ(std::string(doc["payload"]["lotteryId"].get_string().value()), "L-1");
  EXPECT_EQ(std::string(doc["payload"]["winSumMinor"].get_string().value()), "12345");
  EXPECT_EQ(std::string(doc["headers"]["k"].get_string().value()), "v\n");

  // Not the AwardCreated its content type claims (a producer-controlled header can say so): shown
  // raw, never an error that stops the replay.
  e.event.payload = std::string("\xff\x01", 2);
  json = ReplayedEventJson(e);
  ASSERT_TRUE(json.ok()) << json.status();
  ASSERT_EQ(parser.parse(*json).get(doc), simdjson::SUCCESS) << *json;
  EXPECT_EQ(std::string(doc["payloadBase64"].get_string().value()), "/wE=");

  e.event.content_type = "application/octet-stream";
  json = ReplayedEventJson(e);
  ASSERT_TRUE(json.ok());
  ASSERT_EQ(parser.parse(*json).get(doc), simdjson::SUCCESS) << *json;
  EXPECT_EQ(std::string(doc["payloadBase64"].get_string().value()), "/wE=");
}

}  // namespace
}  // namespace lottery::cdc::recovery

namespace lottery::cdc::recovery {
namespace {

StatusReport Streaming() {
  StatusReport r;
  r.slot.exists = true;
  r.slot.active = true;
  r.slot.wal_status = "reserved";
  r.slot.confirmed_flush_lsn = 100;
  r.slot.current_wal_lsn = 200;
  r.checkpoint = Checkpoint{.slot = "s", .lsn = 90};
  return r;
}

TEST(StatusJudgeTest, OverdueRowsAreStalledEvenWhileConnected) {
  StatusReport r = Streaming();
  r.overdue_rows = 3;
  r.overdue_age_seconds = 75;
  Judge(r, StatusLimits{});
  EXPECT_EQ(r.verdict, Verdict::kStalled);
  EXPECT_NE(static_cast<int>(r.verdict), 0);
  EXPECT_THAT(r.reason, ::testing::HasSubstr("3 outbox row(s)"));
}

TEST(StatusJudgeTest, DeadLettersMakeItDegradedAndNamed) {
  StatusReport r = Streaming();
  r.checkpoint->dead_lettered = 2;
  r.checkpoint->last_dead_letter = "seq 7 id abc: too_large: record of about 2000000 bytes";
  Judge(r, StatusLimits{});
  EXPECT_EQ(r.verdict, Verdict::kDegraded);
  EXPECT_THAT(r.reason, ::testing::HasSubstr("seq 7 id abc"));
  r.slot_name = "s";
  r.publication = "p";
  r.checkpoint_topic = "t";
  EXPECT_THAT(StatusText(r), ::testing::HasSubstr("slot s, publication p, checkpoint topic t"));
  EXPECT_THAT(StatusText(r), ::testing::HasSubstr("dead letters: 2"));
  EXPECT_THAT(StatusJson(r), ::testing::HasSubstr("\"verdict\":\"degraded\""));
}

}  // namespace
}  // namespace lottery::cdc::recovery
