// /readyz and the consumer lag of lottery-writer as a process: not ready while batches keep
// failing (the default game_rule row deleted) or while PostgreSQL is unreachable, even when no
// batch runs; ready again once it can work; the lag grows from the broker's high watermarks
// while nothing commits.
#include <signal.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "lottery/common/pg.h"
#include "lottery/testing/stack.h"
#include "writer_test_util.h"

namespace lottery::writer {
namespace {

using lottery::testing::OutRecord;
using lottery::testing::TestDatabase;
using lottery::testing::UniqueName;
using lottery::testing::WaitFor;
using testing::Count;
using testing::NewId;
using testing::StakeRecord;
using namespace std::chrono_literals;

// A writer with its metrics server, on a fresh one-partition topic.
struct Fixture {
  explicit Fixture(const std::string& name) : db("wh"), log_name(name) {
    topic = UniqueName("stakes");
    testing::CreateTopic(topic, 1);
    game = NewId();
    port = lottery::testing::FreePort();
    http = std::make_unique<httplib::Client>("127.0.0.1", port);
  }
  void Start() {
    writer = testing::StartWriter(
        db.dsn(), topic, UniqueName("grp"),
        {"--metrics-addr", absl::StrCat("127.0.0.1:", port), "--players-per-lottery", "100"},
        log_name);
  }
  void Produce(int n) {
    std::vector<OutRecord> records;
    for (int i = 0; i < n; ++i) records.push_back(StakeRecord(topic, NewId(), NewId(), game, "1"));
    lottery::testing::ProduceAll(records);
  }
  int Status(const std::string& path) {
    auto r = http->Get(path);
    return r ? r->status : -1;
  }
  std::string Metric(const std::string& name) {
    auto r = http->Get("/metrics");
    if (!r) return "";
    size_t pos = r->body.find("\n" + name + " ");
    if (pos == std::string::npos) return "";
    size_t end = r->body.find('\n', pos + 1);
    return r->body.substr(pos + name.size() + 2, end - pos - name.size() - 2);
  }
  std::string Log() const {
    std::ifstream in(absl::StrCat(::testing::TempDir(), "/", log_name, ".log"));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void Stop() {
    writer->Kill(SIGTERM);
    auto code = writer->Wait(15s);
    ASSERT_TRUE(code.has_value());
    EXPECT_EQ(*code, 0);
  }

  TestDatabase db;
  std::string log_name, topic, game;
  int port = 0;
  std::unique_ptr<httplib::Client> http;
  std::unique_ptr<lottery::testing::Process> writer;
};

TEST(WriterHealth, NotReadyWhileBatchesFailWithoutTheDefaultGameRule) {
  Fixture f("health_game_rule");
  f.Produce(1);
  f.Start();
  ASSERT_TRUE(WaitFor([&] { return f.Metric("lottery_writer_consumed_total") == "1"; }, 60s));
  ASSERT_TRUE(WaitFor([&] { return f.Status("/readyz") == 200; }, 10s));

  f.db.Scalar("DELETE FROM game_rule WHERE game_id = '00000000-0000-0000-0000-000000000000'");
  f.Produce(5);
  EXPECT_TRUE(WaitFor([&] { return f.Status("/readyz") == 503; }, 20s))
      << "every batch fails, yet /readyz says ready";
  EXPECT_EQ(f.Status("/healthz"), 200);
  // Nothing commits, so only the broker's high watermark can show the backlog.
  EXPECT_TRUE(WaitFor([&] { return f.Metric("lottery_writer_consumer_lag") == "5"; }, 20s))
      << "lag " << f.Metric("lottery_writer_consumer_lag");
  EXPECT_EQ(f.Metric("lottery_writer_consumed_total"), "1");
  EXPECT_EQ(f.Metric("lottery_writer_ready"), "0");
  EXPECT_THAT(f.Log(), ::testing::HasSubstr("not ready: batches failing: FAILED_PRECONDITION: "
                                            "game_rule has no default (nil UUID) row"));

  f.db.Scalar(
      "INSERT INTO game_rule (game_id, players_needed, draw_mode, prize_policy, prize_bps) "
      "VALUES ('00000000-0000-0000-0000-000000000000', 10, 'uniform', 'winner_stake', 3300)");
  EXPECT_TRUE(WaitFor([&] { return f.Status("/readyz") == 200; }, 30s));
  EXPECT_TRUE(WaitFor([&] { return f.Metric("lottery_writer_consumed_total") == "6"; }, 10s));
  EXPECT_EQ(f.Metric("lottery_writer_consumer_lag"), "0");
  EXPECT_EQ(Count(f.db, "SELECT count(*) FROM lottery_entry"), 6);
  f.Stop();
}

// An idle writer whose PostgreSQL goes away (its backend terminated, reconnects refused) must say
// so without waiting for the next stake; once PostgreSQL takes connections again it is ready and
// applies stakes again.
TEST(WriterHealth, NotReadyWhilePostgresIsUnreachableEvenWhenIdle) {
  Fixture f("health_pg_gone");
  f.Produce(1);
  f.Start();
  ASSERT_TRUE(WaitFor([&] { return f.Metric("lottery_writer_consumed_total") == "1"; }, 60s));
  ASSERT_TRUE(WaitFor([&] { return f.Status("/readyz") == 200; }, 10s));

  pg::ConnPtr admin = *pg::Connect(lottery::testing::PgDsn());
  const std::string db = pg::QuoteIdent(admin.get(), f.db.name());
  ASSERT_TRUE(
      pg::ExecCommand(admin.get(), "ALTER DATABASE " + db + " ALLOW_CONNECTIONS false").ok());
  ASSERT_TRUE(pg::ExecCommand(admin.get(),
                              "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = $1 AND pid <> pg_backend_pid()",
                              {pg::Param::Text(f.db.name())})
                  .ok());
  EXPECT_TRUE(WaitFor([&] { return f.Status("/readyz") == 503; }, 10s))
      << "PostgreSQL refuses the writer, yet /readyz says ready";
  EXPECT_EQ(f.Status("/healthz"), 200);
  EXPECT_THAT(f.Log(), ::testing::HasSubstr("not ready: PostgreSQL unavailable"));

  ASSERT_TRUE(
      pg::ExecCommand(admin.get(), "ALTER DATABASE " + db + " ALLOW_CONNECTIONS true").ok());
  EXPECT_TRUE(WaitFor([&] { return f.Status("/readyz") == 200; }, 15s));
  f.Produce(1);
  EXPECT_TRUE(WaitFor([&] { return f.Metric("lottery_writer_consumed_total") == "2"; }, 30s));
  EXPECT_EQ(Count(f.db, "SELECT count(*) FROM lottery_entry"), 2);
  f.Stop();
}

}  // namespace
}  // namespace lottery::writer
