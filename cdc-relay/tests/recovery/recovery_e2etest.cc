// Recovery scenarios of docs/operations.md against the real PostgreSQL and Kafka, driving the real
// lottery-cdc-relay binary. Each ends with the delivery property read back with read_committed:
// every outbox event exactly once, none invented.
#include <random>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_split.h"
#include "lottery/cdc/replication.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/v1/award.pb.h"
#include "recovery_test_util.h"
#include "simdjson.h"

namespace lottery::cdc::recovery::testing {
namespace {

using lottery::testing::ReadAllCommitted;
using lottery::testing::UniqueName;
using lottery::testing::WaitFor;

struct DryRunLine {
  std::string lsn, id, topic, key, message_type, lottery_id;
  int64_t seq = 0;
};

std::vector<DryRunLine> ParseDryRun(const std::string& output) {
  std::vector<DryRunLine> out;
  simdjson::dom::parser parser;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (!absl::StartsWith(line, "{\"lsn\"")) continue;
    simdjson::dom::element doc;
    if (parser.parse(line.data(), line.size()).get(doc) != simdjson::SUCCESS) {
      ADD_FAILURE() << "not JSON: " << line;
      continue;
    }
    DryRunLine l;
    l.lsn = std::string(doc["lsn"].get_string().value());
    l.id = std::string(doc["id"].get_string().value());
    l.topic = std::string(doc["topic"].get_string().value());
    l.key = std::string(doc["key"].get_string().value());
    l.message_type = std::string(doc["messageType"].get_string().value());
    l.seq = doc["seq"].get_int64().value();
    std::string_view lottery_id;
    if (doc.at_pointer("/payload/lotteryId").get_string().get(lottery_id) == simdjson::SUCCESS) {
      l.lottery_id = std::string(lottery_id);
    }
    out.push_back(l);
  }
  return out;
}

TEST(Recovery, ReplayDryRunMatchesRowsWrittenAndDoesNotConsume) {
  Scenario s("rdry");
  auto conn = s.db.Connect();
  s.db.Scalar("SELECT pg_create_logical_replication_slot('" + s.slot + "', 'pgoutput')");
  const std::string topic = UniqueName("rdry_t");
  std::vector<std::string> ids = InsertRows(conn.get(), topic, 1, 2);
  lottery::v1::AwardCreated award;
  award.set_award_id("a-1");
  award.set_lottery_id("11111111-2222-3333-4444-555555555555");
  award.set_win_sum_minor(407385);
  auto r = pg::Exec(
      conn.get(),
      "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload) "
      "VALUES (gen_random_uuid(), 'lottery', $1, 'lotteryAwardCreated', $2, "
      "'application/x-protobuf; messageType=lottery.v1.AwardCreated', $3) RETURNING id::text",
      {pg::Param::Text(award.lottery_id()), pg::Param::Text(topic),
       pg::Param::Bytes(award.SerializeAsString())});
  ASSERT_OK(r.status());
  ids.emplace_back(pg::Value(r->get(), 0, 0));
  for (auto& id : InsertRows(conn.get(), topic, 1, 3)) ids.push_back(id);
  // Traffic outside the publication is not an event.
  s.db.Scalar("CREATE TABLE other (x int)");
  s.db.Scalar("INSERT INTO other VALUES (1) RETURNING x");
  const Lsn before = s.ConfirmedFlush();

  std::string out;
  ASSERT_EQ(s.Cli({"replay", "--dry-run"}, &out), 0) << out;
  std::vector<DryRunLine> lines = ParseDryRun(out);
  ASSERT_EQ(lines.size(), ids.size()) << out;
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(lines[i].id, ids[i]);
    EXPECT_EQ(lines[i].topic, topic);
    EXPECT_EQ(lines[i].message_type, "lotteryAwardCreated");
    EXPECT_EQ(lines[i].seq, static_cast<int64_t>(i + 1));
  }
  EXPECT_EQ(lines[2].key, award.lottery_id());
  EXPECT_EQ(lines[2].lottery_id, award.lottery_id()) << "protobuf payload in the JSON mapping";
  EXPECT_EQ(lines[0].lsn, lines[1].lsn) << "one transaction, one commit LSN";

  // LSN bounds select whole transactions.
  ASSERT_EQ(s.Cli({"replay", "--dry-run", "--from-lsn", lines[2].lsn}, &out), 0) << out;
  EXPECT_EQ(ParseDryRun(out).size(), 4u);
  ASSERT_EQ(s.Cli({"replay", "--dry-run", "--to-lsn", lines[2].lsn}, &out), 0) << out;
  EXPECT_EQ(ParseDryRun(out).size(), 3u);

  // While a walsender holds the slot, the dry run works on a temporary copy.
  auto repl = ReplicationConnection::Connect(s.db.dsn());
  ASSERT_OK(repl.status());
  ASSERT_OK(repl->StartReplication(s.slot, 0, "lottery_outbox"));
  ASSERT_TRUE(WaitFor([&] { return s.SlotActive() == true; }, std::chrono::seconds(10)));
  ASSERT_EQ(s.Cli({"replay", "--dry-run"}, &out), 0) << out;
  lines = ParseDryRun(out);
  ASSERT_EQ(lines.size(), ids.size()) << out;
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(lines[i].id, ids[i]);
  EXPECT_EQ(s.db.Scalar("SELECT count(*) FROM pg_replication_slots WHERE temporary"), "0");
  repl = absl::UnavailableError("closed");  // end the walsender
  ASSERT_TRUE(WaitFor([&] { return s.SlotActive() == false; }, std::chrono::seconds(10)));
  EXPECT_EQ(s.ConfirmedFlush(), before) << "the dry run must not consume the slot";

  // A row the relay would dead-letter (headers that are not strings) is shown, with the reason;
  // it is never skipped.
  s.db.Scalar(
      "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload, "
      "headers) "
      "VALUES (gen_random_uuid(), 'l', 'k', 't', '" +
      topic + "', 'c', '\\x00', '{\"n\": 1}') RETURNING 1");
  EXPECT_EQ(s.Cli({"replay", "--dry-run"}, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("\"deadLetter\":{\"error\":\"bad_headers\""));
}

TEST(Recovery, RelayKilledDuringBacklog) {
  Scenario s("rkill");
  auto conn = s.db.Connect();
  const std::string topic = UniqueName("rkill_t");
  std::string out;
  // First start creates the slot; nothing to publish yet.
  s.Drain();
  std::vector<std::string> ids = InsertRows(conn.get(), topic, 300, 5);  // the backlog
  std::mt19937 rng(std::random_device{}());
  for (int kill = 0; kill < 4; ++kill) {
    auto relay = s.StartRelay();
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
    relay->Kill(SIGKILL);
    relay->Wait(std::chrono::seconds(10));
  }
  s.Drain();
  ExpectEachExactlyOnce(ReadAllCommitted({topic}), ids);
  EXPECT_EQ(s.Cli({"status"}, &out), 1) << out;  // slot fine, but no relay streams it: lagging
}

// `replay --publish` resumes by hand: it publishes what the slot holds through the daemon's
// exactly-once path, stops at the WAL end, and a second run (or the daemon after it) repeats
// nothing. It refuses while a relay holds the slot, rather than fencing it.
TEST(Recovery, ReplayPublishResumesByHandWithoutRepeating) {
  Scenario s("rpub");
  auto conn = s.db.Connect();
  const std::string topic = UniqueName("rpub_t");
  std::string out;
  s.Drain();  // first start creates the slot
  std::vector<std::string> ids = InsertRows(conn.get(), topic, 40, 3);
  EXPECT_EQ(s.Cli({"replay", "--publish", "--from-lsn", "0/1"}, &out), 2) << out;
  EXPECT_EQ(s.Cli({"replay", "--publish"}, &out), 0) << out;
  ExpectEachExactlyOnce(ReadAllCommitted({topic}), ids);
  EXPECT_EQ(s.Cli({"replay", "--publish"}, &out), 0) << out;  // nothing new: nothing repeated
  s.Drain();
  ExpectEachExactlyOnce(ReadAllCommitted({topic}), ids);

  auto relay = s.StartRelay();
  ASSERT_TRUE(WaitFor(
      [&] {
        return s.db.Scalar(
                   "SELECT active::text FROM pg_replication_slots WHERE "
                   "database = current_database()") == "true";
      },
      std::chrono::seconds(30)));
  EXPECT_EQ(s.Cli({"replay", "--publish"}, &out), 1) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("in use"));
  EXPECT_TRUE(relay->Running());  // not fenced by the refused replay
}

TEST(Recovery, AwardTopicRecreatedThenRecoverFromSeq) {
  Scenario s("rtopic");
  auto conn = s.db.Connect();
  const std::string award_topic = UniqueName("rtopic_award");
  const std::string other_topic = UniqueName("rtopic_other");
  ASSERT_OK(kafka::CreateTopics(lottery::testing::KafkaBootstrap(),
                                {{award_topic, 3}, {other_topic, 3}}));
  s.Drain();  // creates the slot
  auto relay = s.StartRelay();
  std::vector<std::string> lost = InsertRows(conn.get(), award_topic, 20, 3);
  std::vector<std::string> kept = InsertRows(conn.get(), other_topic, 10, 2);
  // Wait until the relay published all of it, then lose the award topic.
  const Lsn end = s.CurrentWalLsn();
  ASSERT_TRUE(WaitFor([&] { return s.ConfirmedFlush() >= end; }, std::chrono::seconds(60)));
  const std::string first_seq =
      s.db.Scalar("SELECT min(seq) FROM outbox WHERE topic = '" + award_topic + "'");
  ASSERT_OK(kafka::DeleteTopics(lottery::testing::KafkaBootstrap(), {award_topic}));
  ASSERT_TRUE(WaitFor(
      [&] {
        return kafka::CreateTopics(lottery::testing::KafkaBootstrap(), {{award_topic, 3}}).ok() &&
               ReadAllCommitted({award_topic}, std::chrono::seconds(10)).empty();
      },
      std::chrono::seconds(60)));

  // The writer keeps writing during the recovery; the live relay keeps publishing.
  Trickle writer(
      s.db, [&](PGconn* c, int) { return InsertRows(c, award_topic, 1, 2); },
      std::chrono::milliseconds(20));
  std::string out;
  int rc = s.Cli({"recover", "--from-seq", first_seq}, &out);
  std::vector<std::string> live = writer.Stop();
  ASSERT_EQ(rc, 0) << out;
  relay->Kill(SIGTERM);
  ASSERT_EQ(relay->Wait(std::chrono::seconds(30)), 0);
  s.Drain();

  std::vector<std::string> all = lost;
  all.insert(all.end(), kept.begin(), kept.end());
  all.insert(all.end(), live.begin(), live.end());
  std::vector<Record> records = ReadAllCommitted({award_topic, other_topic});
  ExpectEachExactlyOnce(records, all);
  // The lost events came back marked as republished; the others were not touched.
  absl::flat_hash_map<std::string, bool> republished;
  for (const Record& r : records) republished[*r.Header("id")] = r.Header("republished") == "true";
  for (const auto& id : lost) EXPECT_TRUE(republished[id]) << id;
  for (const auto& id : kept) EXPECT_FALSE(republished[id]) << id;
  EXPECT_FALSE(live.empty());
}

TEST(Recovery, RecoverKilledMidwayIsRerunWithoutRepeating) {
  Scenario s("rrerun");
  auto conn = s.db.Connect();
  const std::string topic = UniqueName("rrerun_award");
  ASSERT_OK(kafka::CreateTopics(lottery::testing::KafkaBootstrap(), {{topic, 3}}));
  s.Drain();
  std::vector<std::string> ids = InsertRows(conn.get(), topic, 400, 5);
  auto relay = s.StartRelay();
  const Lsn end = s.CurrentWalLsn();
  ASSERT_TRUE(WaitFor([&] { return s.ConfirmedFlush() >= end; }, std::chrono::seconds(60)));
  ASSERT_OK(kafka::DeleteTopics(lottery::testing::KafkaBootstrap(), {topic}));
  ASSERT_TRUE(WaitFor(
      [&] {
        return kafka::CreateTopics(lottery::testing::KafkaBootstrap(), {{topic, 3}}).ok() &&
               ReadAllCommitted({topic}, std::chrono::seconds(10)).empty();
      },
      std::chrono::seconds(60)));

  // First run: small Kafka transactions, killed once it started publishing.
  std::string log = s.NextLog("recover1");
  {
    Process first({lottery::testing::BinaryPath("lottery-cdc-relay"), "recover", "--from-seq", "1",
                   "--batch", "2"},
                  s.Env(), log);
    ASSERT_TRUE(
        WaitFor([&] { return !ReadAllCommitted({topic}, std::chrono::seconds(10)).empty(); },
                std::chrono::seconds(60)))
        << ReadFile(log);
    first.Kill(SIGKILL);
    first.Wait(std::chrono::seconds(10));
  }
  std::string out;
  ASSERT_EQ(s.Cli({"recover", "--from-seq", "1"}, &out), 0) << out;
  relay->Kill(SIGTERM);
  ASSERT_EQ(relay->Wait(std::chrono::seconds(30)), 0);
  std::vector<Record> records = ReadAllCommitted({topic});
  ExpectEachExactlyOnce(records, ids);
  absl::flat_hash_map<std::string, int> by_run;
  for (const Record& r : records) ++by_run[r.Header("recovery-run").value_or("")];
  EXPECT_EQ(by_run.size(), 2u) << "both runs published part of it (the first was killed midway)";
  EXPECT_EQ(by_run.count(""), 0u);
}

TEST(Recovery, SlotDroppedThenRecoverSlotLost) {
  Scenario s("rlost");
  const std::string topic = UniqueName("rlost_t");
  std::string out;
  EXPECT_EQ(s.Cli({"status"}, &out), 5) << out;  // never started
  s.Drain();
  Trickle writer(
      s.db, [&](PGconn* c, int) { return InsertRows(c, topic, 1, 3); },
      std::chrono::milliseconds(5));
  auto relay = s.StartRelay();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(s.Cli({"status"}, &out), 0) << out;  // healthy while streaming
  relay->Kill(SIGTERM);
  ASSERT_EQ(relay->Wait(std::chrono::seconds(30)), 0);
  // The slot goes while inserts keep coming.
  s.db.Scalar("SELECT pg_drop_replication_slot('" + s.slot + "')::text");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(s.Cli({"status"}, &out), 2) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("recover --slot-lost"));
  // The daemon refuses to start and names the recovery command.
  EXPECT_NE(s.Cli({"run"}, &out, std::chrono::seconds(60)), 0);
  EXPECT_THAT(out, ::testing::HasSubstr("lottery-cdc-relay recover --slot-lost"));
  ASSERT_EQ(s.Cli({"recover", "--slot-lost"}, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("\"published\":"));
  EXPECT_THAT(out, ::testing::Not(::testing::HasSubstr("\"published\":0,")))
      << "rows committed while the slot was gone";
  relay = s.StartRelay();
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<std::string> ids = writer.Stop();
  relay->Kill(SIGTERM);
  ASSERT_EQ(relay->Wait(std::chrono::seconds(30)), 0);
  s.Drain();
  ExpectEachExactlyOnce(ReadAllCommitted({topic}), ids);
  // A second --slot-lost on a healthy slot refuses.
  EXPECT_NE(s.Cli({"recover", "--slot-lost"}, &out), 0);
}

TEST(Recovery, WriterBeforeTheFirstRelayStartRecoverSlotLostPublishesTheTable) {
  Scenario s("rfirst");
  auto conn = s.db.Connect();
  const std::string topic = UniqueName("rfirst_t");
  std::vector<std::string> ids = InsertRows(conn.get(), topic, 10, 3);  // no slot yet
  std::string out;
  ASSERT_EQ(s.Cli({"recover", "--slot-lost"}, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("\"published\":30,"));
  for (auto& id : InsertRows(conn.get(), topic, 5, 2)) ids.push_back(id);
  s.Drain();
  ExpectEachExactlyOnce(ReadAllCommitted({topic}), ids);
}

TEST(Recovery, DropRefusesActiveSlotUnlessForced) {
  Scenario s("rdrop");
  s.Drain();
  auto relay = s.StartRelay();
  ASSERT_TRUE(WaitFor([&] { return s.SlotActive() == true; }, std::chrono::seconds(30)));
  std::string out;
  EXPECT_NE(s.Cli({"drop"}, &out), 0);
  EXPECT_THAT(out, ::testing::HasSubstr("--force"));
  EXPECT_TRUE(s.SlotExists());
  relay->Kill(SIGTERM);
  ASSERT_EQ(relay->Wait(std::chrono::seconds(30)), 0);
  auto slot_active = [&] {
    return WaitFor([&] { return s.SlotActive() == true; }, std::chrono::seconds(30));
  };
  {
    // A superuser's walsender: lottery_relay may not end it, and says so with what to do.
    auto superuser = ReplicationConnection::Connect(s.db.dsn());
    ASSERT_OK(superuser.status());
    ASSERT_OK(superuser->StartReplication(s.slot, 0, "lottery_outbox"));
    ASSERT_TRUE(slot_active());
    EXPECT_NE(s.Cli({"drop", "--force", "--delete-checkpoint"}, &out), 0) << out;
    EXPECT_THAT(out, ::testing::HasSubstr("then run drop again"));
    EXPECT_TRUE(s.SlotExists());
  }
  ASSERT_TRUE(WaitFor([&] { return s.SlotActive() == false; }, std::chrono::seconds(30)));
  // A walsender of the relay's role that is not the relay (a relay would reconnect), e.g. a
  // stray pg_recvlogical, holds the slot: --force ends it.
  auto repl = ReplicationConnection::Connect(s.db.RoleDsn("lottery_relay") +
                                             " password=" + lottery::testing::kTestRolePassword);
  ASSERT_OK(repl.status());
  ASSERT_OK(repl->StartReplication(s.slot, 0, "lottery_outbox"));
  ASSERT_TRUE(slot_active());
  ASSERT_EQ(s.Cli({"drop", "--force", "--delete-checkpoint"}, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("no longer retains WAL"));
  EXPECT_FALSE(s.SlotExists());
  EXPECT_EQ(s.Cli({"status"}, &out), 5) << out;  // checkpoint deleted, no slot: a first start
}

}  // namespace
}  // namespace lottery::cdc::recovery::testing
