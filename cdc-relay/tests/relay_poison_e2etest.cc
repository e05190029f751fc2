// Rows that can never become Kafka records, against the real PostgreSQL and Kafka: each is
// dead-lettered once in the same transaction, and every row behind it is published exactly once
// (or, with --on-record-error stop, the relay exits naming the row). No hot loop.
#include <signal.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "lottery/common/kafka.h"
#include "lottery/common/testing/status_matchers.h"
#include "relay_test_util.h"

namespace lottery::cdc::testing {
namespace {

using lottery::testing::ReadAllCommitted;
using lottery::testing::Record;
using ::testing::HasSubstr;

std::map<std::string, const Record*> ById(const std::vector<Record>& records) {
  std::map<std::string, const Record*> by_id;
  for (const auto& r : records) by_id[r.Header("id").value_or("")] = &r;
  return by_id;
}

TEST(RelayPoisonE2eTest, EachBadRowIsDeadLetteredOnceAndTheRowsBehindItFlow) {
  RelayWorld w;
  std::string dlq = UniqueName("relay_dlq");
  std::string small = UniqueName("relay_small");  // the broker refuses records over 2000 bytes
  ASSERT_OK(kafka::CreateTopics(KafkaBootstrap(), {{small, 1}}, {{"max.message.bytes", "2000"}}));
  ASSERT_OK(kafka::CreateTopics(KafkaBootstrap(), {{w.topic, 1}}));
  int port = lottery::testing::FreePort();
  auto relay = w.StartRelay(
      "relay", {"--dlq-topic", dlq, "--metrics-addr", absl::StrCat("127.0.0.1:", port)});
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(60))) << w.Log("relay");
  auto conn = w.db.Connect();

  std::vector<std::string> good = InsertOutbox(conn.get(), w.topic, {"g0"}, {"{}"});
  std::map<std::string, std::string> bad;  // id -> expected error label
  auto add_bad = [&](const std::string& topic, const std::string& payload,
                     const std::string& headers, const std::string& label) {
    auto ids = InsertOutbox(conn.get(), topic, {"b"}, {payload}, headers);
    ASSERT_EQ(ids.size(), 1u);
    bad[ids[0]] = label;
  };
  add_bad("bad topic", "{}", "{}", "invalid_topic");
  add_bad(std::string(300, 'a'), "{}", "{}", "invalid_topic");
  add_bad("", "{}", "{}", "invalid_topic");
  add_bad(w.topic, std::string(1'030'000, 'x'), "{}", "too_large");
  add_bad(w.topic, "{}", R"({"n": 1})", "bad_headers");
  add_bad(w.topic, "{}", R"({"id": "forged"})", "reserved_header");
  add_bad(small, std::string(5000, 'y'), "{}", "rejected_by_kafka");
  for (int i = 1; i <= 10; ++i) {
    auto ids = InsertOutbox(conn.get(), w.topic, {absl::StrCat("g", i)}, {absl::StrCat(i)});
    good.insert(good.end(), ids.begin(), ids.end());
  }

  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(120))) << w.Log("relay");
  EXPECT_TRUE(relay->Running()) << w.Log("relay");

  std::vector<Record> published = ReadAllCommitted({w.topic});
  auto published_by_id = ById(published);
  EXPECT_EQ(published.size(), good.size());
  for (const auto& id : good) EXPECT_TRUE(published_by_id.contains(id)) << id;
  EXPECT_TRUE(ReadAllCommitted({small}).empty());

  std::vector<Record> letters = ReadAllCommitted({dlq});
  EXPECT_EQ(letters.size(), bad.size());
  auto letters_by_id = ById(letters);
  for (const auto& [id, label] : bad) {
    ASSERT_TRUE(letters_by_id.contains(id)) << id << " " << label;
    const Record& r = *letters_by_id[id];
    EXPECT_EQ(r.Header("error"), label) << id;
    EXPECT_TRUE(r.Header("seq").has_value());
    EXPECT_TRUE(r.Header("lsn").has_value());
    EXPECT_TRUE(r.Header("original-topic").has_value());
    EXPECT_LE(r.value.size(), 1'000'000u);
  }
  httplib::Client http("127.0.0.1", port);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body,
              HasSubstr("lottery_relay_dead_lettered_total{reason=\"invalid_topic\"} 3"));
  EXPECT_THAT(metrics->body,
              HasSubstr("lottery_relay_dead_lettered_total{reason=\"too_large\"} 1"));
  EXPECT_THAT(metrics->body,
              HasSubstr("lottery_relay_dead_lettered_total{reason=\"rejected_by_kafka\"} 1"));
  // The broker's refusal costs one aborted transaction, not a loop of them.
  EXPECT_THAT(metrics->body,
              ::testing::ContainsRegex("lottery_relay_kafka_transactions_aborted_total [0-3]\n"));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http.Get("/readyz");
        return r && r->status == 200;
      },
      std::chrono::seconds(30)))
      << w.Log("relay");
  relay->Kill(SIGTERM);
  EXPECT_EQ(relay->Wait(std::chrono::seconds(30)), 0) << w.Log("relay");
}

TEST(RelayPoisonE2eTest, OnRecordErrorStopExitsNamingTheRowAndDlqThenGoesOn) {
  RelayWorld w;
  std::string dlq = UniqueName("relay_dlq");
  auto relay = w.StartRelay("stop", {"--on-record-error", "stop", "--dlq-topic", dlq});
  ASSERT_TRUE(WaitFor([&] { return w.SlotExists(); }, std::chrono::seconds(60))) << w.Log("stop");
  auto conn = w.db.Connect();
  auto bad = InsertOutbox(conn.get(), "no such topic", {"k"}, {"{}"});
  auto good = InsertOutbox(conn.get(), w.topic, {"k"}, {"{}"});
  EXPECT_EQ(relay->Wait(std::chrono::seconds(60)), 1) << w.Log("stop");
  std::string log = w.Log("stop");
  EXPECT_THAT(log, HasSubstr(absl::StrCat("id ", bad[0])));
  EXPECT_THAT(log, HasSubstr("--on-record-error dlq"));

  auto again = w.StartRelay("dlq", {"--dlq-topic", dlq});
  ASSERT_TRUE(w.WaitUntilCaughtUp(std::chrono::seconds(60))) << w.Log("dlq");
  again->Kill(SIGTERM);
  EXPECT_EQ(again->Wait(std::chrono::seconds(30)), 0) << w.Log("dlq");
  auto published = ReadAllCommitted({w.topic});
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].Header("id"), good[0]);
  auto letters = ReadAllCommitted({dlq});
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].Header("id"), bad[0]);
}

}  // namespace
}  // namespace lottery::cdc::testing
