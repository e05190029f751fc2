// lottery-writer as a real process against real Kafka and PostgreSQL: exactly-once across
// repeated kill -9, two writers in one group on the same games, every malformed kind rejected
// with its reason through Kafka, graceful shutdown.
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "lottery/testing/stack.h"
#include "writer_test_util.h"

namespace lottery::writer {
namespace {

using lottery::testing::OutRecord;
using lottery::testing::TestDatabase;
using lottery::testing::UniqueName;
using lottery::testing::WaitFor;
using testing::Count;
using testing::ExpectInvariants;
using testing::NewId;
using testing::StakeRecord;
using namespace std::chrono_literals;

struct Workload {
  std::vector<OutRecord> records;
  std::set<std::string> valid_ids;  // distinct event ids of valid stakes
  int malformed = 0;
};

// `n` stakes over `games` games and `players` players; every 10th record repeats an earlier
// event id (a retrying producer), every 50th is malformed.
Workload MakeWorkload(const std::string& topic, int n, int games, int players) {
  std::mt19937 rng(42);
  std::vector<std::string> g, p;
  for (int i = 0; i < games; ++i) g.push_back(NewId());
  for (int i = 0; i < players; ++i) p.push_back(NewId());
  Workload w;
  std::vector<OutRecord> sent;
  for (int i = 0; i < n; ++i) {
    if (i % 10 == 9 && !sent.empty()) {
      OutRecord dup = sent[rng() % sent.size()];
      dup.partition = static_cast<int>(rng() % 3);  // often another partition than the original
      w.records.push_back(dup);
      continue;
    }
    std::string id = NewId();
    if (i % 50 == 49) {
      w.records.push_back(
          StakeRecord(topic, id, p[rng() % players], g[rng() % games], "1.234", i % 3));
      ++w.malformed;
      continue;
    }
    // Explicit partitions: librdkafka's sticky partitioner would put a burst into one partition.
    OutRecord r = StakeRecord(topic, id, p[rng() % players], g[rng() % games],
                              absl::StrCat(1 + rng() % 500), i % 3);
    w.records.push_back(r);
    sent.push_back(r);
    w.valid_ids.insert(id);
  }
  return w;
}

// Every valid event id is exactly one entry, nothing else is.
void ExpectExactlyOnce(const TestDatabase& db, const Workload& w) {
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry"),
            static_cast<int64_t>(w.valid_ids.size()));
  std::string ids =
      db.Scalar("SELECT string_agg(id::text, ',' ORDER BY id::text) FROM lottery_entry");
  std::string want;
  for (const std::string& id : w.valid_ids) absl::StrAppend(&want, want.empty() ? "" : ",", id);
  EXPECT_TRUE(ids == want) << "entry ids differ from the valid event ids";
  EXPECT_EQ(Count(db, "SELECT count(*) FROM rejected_stake"), w.malformed);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM outbox WHERE type = 'stakeRejected'"), w.malformed);
  EXPECT_EQ(Count(db, "SELECT sum(next_offset) FROM consumer_offset"),
            static_cast<int64_t>(w.records.size()));
}

// Starts the writer with `args` and kills it (SIGKILL) at a random moment after it made
// progress, up to `max_kills` times in `rounds` rounds; the logs are named `<prefix><round>`.
// Returns the kills made (fewer when the writer finished first).
int KillRepeatedly(const TestDatabase& db, const std::string& topic, const std::string& group,
                   const std::vector<std::string>& args, int rounds, int max_kills,
                   std::mt19937& rng, int max_wait_ms, const std::string& prefix) {
  int kills = 0;
  for (int round = 0; round < rounds && kills < max_kills; ++round) {
    int64_t before = Count(db, "SELECT count(*) FROM lottery_entry");
    auto p = testing::StartWriter(db.dsn(), topic, group, args, absl::StrCat(prefix, round));
    // Let it make progress, then kill it at a random moment of a batch.
    EXPECT_TRUE(
        WaitFor([&] { return Count(db, "SELECT count(*) FROM lottery_entry") > before; }, 60s))
        << "writer made no progress in round " << round;
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % max_wait_ms));
    if (!p->Running()) break;
    p->Kill(SIGKILL);
    p->Wait(10s);
    ++kills;
  }
  return kills;
}

TEST(WriterKafka, ExactlyOnceAcrossRepeatedKillNine) {
  TestDatabase db("wk");
  const std::string topic = UniqueName("stakes"), group = UniqueName("grp");
  testing::CreateTopic(topic);
  Workload w = MakeWorkload(topic, 12000, 8, 60);
  lottery::testing::ProduceAll(w.records);
  std::mt19937 rng(7);
  const int kills = KillRepeatedly(
      db, topic, group,
      {"--batch-size", "50", "--batch-linger-ms", "20", "--players-per-lottery", "5"}, 5, 5, rng,
      400, "kill9_");
  EXPECT_GE(kills, 3) << "the workload finished too fast to kill the writer mid-run";
  auto last = testing::StartWriter(
      db.dsn(), topic, group,
      {"--batch-size", "500", "--players-per-lottery", "5", "--exit-when-idle", "4000"},
      "kill9_final");
  auto code = last->Wait(120s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  ExpectExactlyOnce(db, w);
  EXPECT_GT(Count(db, "SELECT count(*) FROM lottery WHERE status = 'finished'"), 100);
  ExpectInvariants(db);
}

// Large batches from several partitions are split over two connections (--pg-connections,
// lanes.h), and the writer is killed while both lanes' transactions run: a lane that committed
// keeps its partitions' offsets, a lane that did not is redone, and no stake is lost or applied
// twice. The stakes of every game are on all three partitions, so the two lanes also wait for
// each other's game locks.
TEST(WriterKafka, BatchesSplitOverConnectionsStayExactlyOnceAcrossKillNine) {
  TestDatabase db("wlanes");
  const std::string topic = UniqueName("stakes"), group = UniqueName("grp");
  testing::CreateTopic(topic);
  Workload w = MakeWorkload(topic, 30000, 40, 400);
  // Small producer batches interleave the partitions in the consumer's queue (a fetch returns
  // whole record batches), so the writer's batches mix them.
  lottery::testing::ProduceAll(w.records, {{"batch.num.messages", "100"}});
  const std::vector<std::string> lanes = {"--pg-connections",      "2",  "--batch-size", "2000",
                                          "--batch-linger-ms",     "50", "--log-level",  "debug",
                                          "--players-per-lottery", "5"};
  // The logs are appended to: an earlier run's must not count below.
  auto log_path = [](const std::string& name) {
    return absl::StrCat(::testing::TempDir(), "/", name, ".log");
  };
  std::vector<std::string> logs = {"lanes_final"};
  for (int round = 0; round < 6; ++round) logs.push_back(absl::StrCat("lanes_", round));
  for (const std::string& name : logs) std::remove(log_path(name).c_str());
  std::mt19937 rng(11);
  const int kills = KillRepeatedly(db, topic, group, lanes, 6, 4, rng, 300, "lanes_");
  EXPECT_GE(kills, 3) << "the workload finished too fast to kill the writer mid-run";
  std::vector<std::string> last_args = lanes;
  last_args.insert(last_args.end(), {"--exit-when-idle", "4000"});
  auto last = testing::StartWriter(db.dsn(), topic, group, last_args, "lanes_final");
  auto code = last->Wait(180s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  ExpectExactlyOnce(db, w);
  ExpectInvariants(db);
  // The lanes really ran: batches were split over both connections.
  int split = 0;
  for (const std::string& name : logs) {
    std::ifstream in(log_path(name));
    for (std::string line; std::getline(in, line);)
      if (line.find("records over 2 connections") != std::string::npos) ++split;
  }
  EXPECT_GT(split, 5) << "no batch was split over two connections";
}

// The server refuses the writer's second connection (its role's CONNECTION LIMIT is 1): the
// second lane of each split batch runs on the first connection instead, the writer says so,
// and every stake is applied once. A connection limit slows the writer; it never stops it.
TEST(WriterKafka, ASecondConnectionRefusedRunsItsLaneOnTheFirst) {
  TestDatabase db("wlimit");
  const std::string topic = UniqueName("stakes"), group = UniqueName("grp");
  testing::CreateTopic(topic);
  Workload w = MakeWorkload(topic, 12000, 40, 400);
  lottery::testing::ProduceAll(w.records, {{"batch.num.messages", "100"}});
  // Roles are the cluster's, not the test database's: the limit is lifted whatever happens.
  db.RoleDsn("lottery_writer");  // creates the role if this cluster has not got it yet
  db.Scalar("ALTER ROLE lottery_writer CONNECTION LIMIT 1");
  struct Unlimit {
    const TestDatabase& db;
    ~Unlimit() { db.Scalar("ALTER ROLE lottery_writer CONNECTION LIMIT -1"); }
  } unlimit{db};
  const std::string log = "limit_final";
  std::remove(absl::StrCat(::testing::TempDir(), "/", log, ".log").c_str());
  auto p = testing::StartWriter(
      db.dsn(), topic, group,
      {"--pg-connections", "2", "--batch-size", "2000", "--batch-linger-ms", "50", "--log-level",
       "debug", "--players-per-lottery", "5", "--exit-when-idle", "4000"},
      log);
  auto code = p->Wait(120s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  ExpectExactlyOnce(db, w);
  ExpectInvariants(db);
  std::ifstream in(absl::StrCat(::testing::TempDir(), "/", log, ".log"));
  int refused = 0, split = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.find("PostgreSQL connection 2 of 2 could not be made") != std::string::npos) ++refused;
    if (line.find("records over 2 connections") != std::string::npos) ++split;
  }
  EXPECT_GE(refused, 1) << "the second connection was not refused";
  EXPECT_GE(split, 1) << "no batch was split, so no lane ran on the first connection";
}

// The stake topic was recreated (or the broker lost records) while PostgreSQL kept the group's
// offsets: the stored offset is past the partition's end. Records below it used to be taken for
// ones already applied and skipped without a trace; the writer now reads the partition from its
// start, says so, and applies every stake once.
TEST(WriterKafka, AStoredOffsetPastTheEndOfARecreatedTopicSkipsNothing) {
  TestDatabase db("wkreset");
  const std::string topic = UniqueName("stakes"), group = UniqueName("grp");
  testing::CreateTopic(topic);
  for (int p = 0; p < 3; ++p) {
    db.Scalar(
        absl::StrCat("INSERT INTO consumer_offset (consumer_group, topic, partition, "
                     "next_offset) VALUES ('",
                     group, "', '", topic, "', ", p, ", 1714) RETURNING 1"));
  }
  Workload w = MakeWorkload(topic, 300, 4, 40);
  lottery::testing::ProduceAll(w.records);
  auto p = testing::StartWriter(db.dsn(), topic, group, {"--exit-when-idle", "3000"}, "reset");
  auto code = p->Wait(120s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry"),
            static_cast<int64_t>(w.valid_ids.size()));
  EXPECT_EQ(Count(db, "SELECT count(*) FROM rejected_stake"), w.malformed);
  std::ifstream in(absl::StrCat(::testing::TempDir(), "/reset.log"));
  std::stringstream log;
  log << in.rdbuf();
  EXPECT_THAT(log.str(), ::testing::HasSubstr("past the partition's end")) << log.str();
  ExpectInvariants(db);
}

TEST(WriterKafka, TwoWritersInOneGroupFillLotteriesExactly) {
  TestDatabase db("wk");
  const std::string topic = UniqueName("stakes"), group = UniqueName("grp");
  testing::CreateTopic(topic);
  // Few games, so both writers' partitions carry stakes of the same games.
  Workload w = MakeWorkload(topic, 8000, 3, 40);
  std::vector<std::string> args = {"--batch-size",          "40", "--batch-linger-ms", "5",
                                   "--players-per-lottery", "4",  "--exit-when-idle",  "5000"};
  auto a = testing::StartWriter(db.dsn(), topic, group, args, "two_a");
  auto b = testing::StartWriter(db.dsn(), topic, group, args, "two_b");
  std::this_thread::sleep_for(3s);  // both in the group before the data arrives
  lottery::testing::ProduceAll(w.records);
  auto ca = a->Wait(120s), cb = b->Wait(120s);
  ASSERT_TRUE(ca.has_value() && cb.has_value());
  EXPECT_EQ(*ca, 0);
  EXPECT_EQ(*cb, 0);
  ExpectExactlyOnce(db, w);
  EXPECT_EQ(
      Count(db, "SELECT count(*) FROM lottery WHERE status = 'finished' AND player_count <> 4"), 0);
  EXPECT_LE(Count(db, "SELECT count(*) FROM lottery WHERE status = 'in_waiting'"), 3);
  // Both writers applied batches (the partitions were really shared).
  EXPECT_EQ(Count(db, "SELECT count(DISTINCT partition) FROM consumer_offset"), 3);
  ExpectInvariants(db);
}

TEST(WriterKafka, EveryMalformedKindIsRejectedWithItsReason) {
  TestDatabase db("wk");
  const std::string topic = UniqueName("stakes"), group = UniqueName("grp");
  testing::CreateTopic(topic, 1);
  const std::string pl = NewId(), g = NewId();
  auto json = [&](const std::string& player, const std::string& game, const std::string& stake) {
    return testing::StakeJson(player, game, stake);
  };
  struct Kind {
    std::string value;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string reason;  // exact, or a prefix when it ends with '*'
  };
  const std::string ev = R"({"message":{"eventType":"player.stakeCreated"},)";
  std::vector<Kind> kinds = {
      {"", {}, "value: empty"},
      {std::string(70000, 'x'), {}, "value: oversized, 70000 bytes > 65536"},
      {ev, {}, "json: *"},
      {json(pl, g, "1") + "}", {}, "json: *"},
      {"\"just a string\"", {}, "json: top level is not an object"},
      {R"({"game":{}})", {}, "message: missing"},
      {R"({"message":[]})", {}, "message: not an object"},
      {R"({"message":{}})", {}, "message.eventType: missing"},
      {R"({"message":{"eventType":true}})", {}, "message.eventType: not a string"},
      {ev.substr(0, ev.size() - 1) + "}", {}, "game: missing"},
      {ev + R"("game":"x"})", {}, "game: not an object"},
      {ev + R"("game":{"gameId":")" + g + R"(","stake":"1"}})", {}, "game.playerId: missing"},
      {ev + R"("game":{"playerId":1,"gameId":")" + g + R"(","stake":"1"}})",
       {},
       "game.playerId: not a string"},
      {json("zz", g, "1"), {}, "game.playerId: uuid: length 2, want 36 (8-4-4-4-12 hex)"},
      {json("00000000-0000-0000-0000-000000000000", g, "1"), {}, "game.playerId: nil UUID"},
      {ev + R"("game":{"playerId":")" + pl + R"(","stake":"1"}})", {}, "game.gameId: missing"},
      {json(pl, "{" + g.substr(1), "1"), {}, "game.gameId: uuid: non-hex character at offset 0"},
      {ev + R"("game":{"playerId":")" + pl + R"(","gameId":")" + g + R"("}})",
       {},
       "game.stake: missing"},
      {ev + R"("game":{"playerId":")" + pl + R"(","gameId":")" + g + R"(","stake":5}})",
       {},
       "game.stake: not a string"},
      {json(pl, g, ""), {}, "game.stake: empty"},
      {json(pl, g, "-1"), {}, "game.stake: negative"},
      {json(pl, g, "0"), {}, "game.stake: zero"},
      {json(pl, g, "1.001"), {}, "game.stake: more than two decimal places"},
      {json(pl, g, "2E3"), {}, "game.stake: exponent not allowed"},
      {json(pl, g, "12a"), {}, "game.stake: non-digit character"},
      {json(pl, g, "99999999999"), {}, "game.stake: above the maximum of 1000000000 major units"},
      {json(pl, g, "1"),
       {{"uuid", "not-a-uuid"}},
       "header uuid: uuid: length 10, want 36 (8-4-4-4-12 hex)"},
      {json(pl, g, "1"),
       {{"content-type", "text/plain"}},
       "content-type: unsupported 'text/plain'"},
      {"\x0a\x05\xff",
       {{"content-type", "application/x-protobuf"}},
       "protobuf: cannot parse lottery.v1.StakeCreated"},
  };
  ASSERT_GE(kinds.size(), 20u);
  std::vector<OutRecord> records;
  std::set<std::string> valid;
  auto add_valid = [&] {
    std::string id = NewId();
    valid.insert(id);
    records.push_back(StakeRecord(topic, id, NewId(), g, "3", 0));
  };
  for (const Kind& k : kinds) {
    add_valid();
    OutRecord r;
    r.topic = topic;
    r.partition = 0;
    r.value = k.value;
    r.headers = k.headers;
    bool has_uuid = false;
    for (auto& h : r.headers) has_uuid |= h.first == "uuid";
    if (!has_uuid) r.headers.push_back({"uuid", NewId()});
    records.push_back(r);
  }
  add_valid();
  lottery::testing::ProduceAll(records);
  auto p = testing::StartWriter(db.dsn(), topic, group,
                                {"--players-per-lottery", "100", "--exit-when-idle", "3000"},
                                "malformed");
  auto code = p->Wait(60s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry"), static_cast<int64_t>(valid.size()));
  for (size_t i = 0; i < kinds.size(); ++i) {
    const int64_t offset = 2 * static_cast<int64_t>(i) + 1;
    std::string reason =
        db.Scalar(absl::StrCat("SELECT reason FROM rejected_stake WHERE source_offset = ", offset));
    std::string dlq =
        db.Scalar(absl::StrCat("SELECT headers->>'reason' FROM outbox WHERE type = 'stakeRejected' "
                               "AND headers->>'source-offset' = '",
                               offset, "'"));
    const std::string& want = kinds[i].reason;
    if (!want.empty() && want.back() == '*') {
      EXPECT_THAT(reason, ::testing::StartsWith(want.substr(0, want.size() - 1))) << "kind #" << i;
    } else {
      EXPECT_EQ(reason, want) << "kind #" << i;
    }
    EXPECT_EQ(dlq, reason) << "kind #" << i;
    EXPECT_EQ(
        Count(db,
              absl::StrCat("SELECT count(*) FROM outbox WHERE type = 'stakeRejected' AND "
                           "headers->>'source-offset' = '",
                           offset,
                           "' AND payload = (SELECT raw FROM rejected_stake WHERE source_offset = ",
                           offset, ")")),
        1)
        << "DLQ row does not carry the original bytes, kind #" << i;
  }
  EXPECT_EQ(Count(db, "SELECT count(*) FROM rejected_stake"), static_cast<int64_t>(kinds.size()));
  EXPECT_EQ(Count(db, "SELECT next_offset FROM consumer_offset"),
            static_cast<int64_t>(records.size()));
}

TEST(WriterKafka, SigtermFinishesTheBatchAndExitsZero) {
  TestDatabase db("wk");
  const std::string topic = UniqueName("stakes"), group = UniqueName("grp");
  testing::CreateTopic(topic);
  Workload w = MakeWorkload(topic, 30000, 20, 200);
  lottery::testing::ProduceAll(w.records);
  auto p = testing::StartWriter(db.dsn(), topic, group,
                                {"--batch-size", "100", "--batch-linger-ms", "20"}, "sigterm");
  ASSERT_TRUE(WaitFor([&] { return Count(db, "SELECT count(*) FROM lottery_entry") > 0; }, 60s));
  p->Kill(SIGTERM);
  auto t0 = std::chrono::steady_clock::now();
  auto code = p->Wait(10s);
  ASSERT_TRUE(code.has_value()) << "no exit within 10 s of SIGTERM";
  EXPECT_EQ(*code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  // Everything consumed so far is committed, consistently: the stored offsets cover exactly the
  // records that were applied.
  int64_t offsets = Count(db, "SELECT sum(next_offset) FROM consumer_offset");
  int64_t applied = Count(db, "SELECT count(*) FROM lottery_entry") +
                    Count(db, "SELECT count(*) FROM rejected_stake");
  EXPECT_LT(offsets, static_cast<int64_t>(w.records.size())) << "stopped too late to test anything";
  // Duplicates are applied as no-ops, so applied <= offsets; the rest are the duplicates seen.
  EXPECT_LE(applied, offsets);
  EXPECT_GE(applied, offsets * 8 / 10);
  EXPECT_EQ(
      Count(
          db,
          "SELECT count(*) FROM lottery_entry e JOIN consumer_offset c ON c.topic = e.source_topic "
          "AND c.partition = e.source_partition WHERE e.source_offset >= c.next_offset"),
      0)
      << "an entry beyond the committed offset";
  ExpectInvariants(db);
}

}  // namespace
}  // namespace lottery::writer

namespace lottery::writer {
namespace {

TEST(WriterKafka, MetricsHealthAndReadiness) {
  TestDatabase db("wk");
  const std::string topic = UniqueName("stakes"), group = UniqueName("grp");
  testing::CreateTopic(topic);
  const std::string game = NewId();
  std::vector<OutRecord> records;
  for (int i = 0; i < 20; ++i) records.push_back(StakeRecord(topic, NewId(), NewId(), game, "1"));
  records.push_back(records[0]);                                     // a duplicate
  records.push_back(StakeRecord(topic, NewId(), "bad", game, "1"));  // a rejection
  records.push_back(StakeRecord(topic, NewId(), NewId(), game, "1"));
  records.back().value = R"({"message":{"eventType":"player.other"}})";  // a skip
  records.push_back(  // a conflicting duplicate: the id of records[1], another stake
      StakeRecord(topic, records[1].headers[0].second, NewId(), game, "500.00"));
  lottery::testing::ProduceAll(records);
  const int port = lottery::testing::FreePort();  // a fixed guess collided with a busy port in CI
  auto p = testing::StartWriter(
      db.dsn(), topic, group,
      {"--metrics-addr", absl::StrCat("127.0.0.1:", port), "--players-per-lottery", "10"},
      "metrics");
  httplib::Client http("127.0.0.1", port);
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http.Get("/healthz");
        return r && r->status == 200;
      },
      20s));
  ASSERT_TRUE(WaitFor(
      [&] {
        auto r = http.Get("/readyz");
        return r && r->status == 200;
      },
      20s));
  auto metric = [&](const std::string& name) -> std::string {
    auto r = http.Get("/metrics");
    if (!r) return "";
    size_t pos = r->body.find("\n" + name + " ");
    if (pos == std::string::npos) return "";
    size_t end = r->body.find('\n', pos + 1);
    return r->body.substr(pos + name.size() + 2, end - pos - name.size() - 2);
  };
  ASSERT_TRUE(WaitFor([&] { return metric("lottery_writer_consumed_total") == "24"; }, 60s))
      << metric("lottery_writer_consumed_total");
  EXPECT_EQ(metric("lottery_writer_entries_total"), "20");
  EXPECT_EQ(metric("lottery_writer_duplicates_total"), "1");
  EXPECT_EQ(metric("lottery_writer_rejected_total"), "2");
  EXPECT_EQ(metric("lottery_writer_conflicting_duplicates_total"), "1");
  EXPECT_EQ(metric("lottery_writer_skipped_total"), "1");
  EXPECT_EQ(metric("lottery_writer_skipped_by_type_total{event_type=\"player.other\"}"), "1");
  EXPECT_EQ(metric("lottery_writer_ready"), "1");
  EXPECT_EQ(metric("lottery_writer_lotteries_finished_total"), "2");
  EXPECT_EQ(metric("lottery_writer_awards_total"), "2");
  EXPECT_EQ(metric("lottery_writer_consumer_lag"), "0");
  EXPECT_NE(metric("lottery_writer_transaction_seconds_count"), "");
  p->Kill(SIGTERM);
  auto code = p->Wait(10s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  ExpectInvariants(db);
}

}  // namespace
}  // namespace lottery::writer
