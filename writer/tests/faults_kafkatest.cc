// PostgreSQL restarted under load (scripts/stack pg-stop / pg-start of the stack in
// LOTTERY_STATE_DIR, default <repo>/.local): the writer retries with backoff, nothing advances
// while PostgreSQL is gone, nothing is lost or applied twice.
//
// This test RESTARTS the PostgreSQL server of the stack it runs against. `make test` runs it on
// the stack it started; by hand, point LOTTERY_STATE_DIR (and LOTTERY_PG_DSN /
// LOTTERY_KAFKA_BOOTSTRAP) at a private stack, never at a shared one.
#include <cstdlib>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lottery/testing/stack.h"
#include "writer_test_util.h"

namespace lottery::writer {
namespace {

using lottery::testing::TestDatabase;
using lottery::testing::UniqueName;
using lottery::testing::WaitFor;
using testing::Count;
using namespace std::chrono_literals;

int Stack(const std::string& cmd) {
  return std::system(absl::StrCat(LOTTERY_SOURCE_DIR, "/scripts/stack ", cmd, " >&2").c_str());
}

TEST(WriterFaults, PostgresRestartedUnderLoad) {
  TestDatabase db("wf");
  const std::string topic = UniqueName("stakes"), group = UniqueName("grp");
  testing::CreateTopic(topic);
  std::vector<lottery::testing::OutRecord> records;
  std::set<std::string> ids;
  std::vector<std::string> games, players;
  for (int i = 0; i < 10; ++i) games.push_back(testing::NewId());
  for (int i = 0; i < 50; ++i) players.push_back(testing::NewId());
  for (int i = 0; i < 8000; ++i) {
    std::string id = testing::NewId();
    ids.insert(id);
    records.push_back(
        testing::StakeRecord(topic, id, players[(i * 7) % 50], games[i % 10], "2.5", i % 3));
  }
  lottery::testing::ProduceAll(records);
  auto p = testing::StartWriter(db.dsn(), topic, group,
                                {"--batch-size", "100", "--batch-linger-ms", "10",
                                 "--players-per-lottery", "5", "--exit-when-idle", "5000"},
                                "pg_restart");
  ASSERT_TRUE(WaitFor([&] { return Count(db, "SELECT count(*) FROM lottery_entry") > 300; }, 60s));
  ASSERT_EQ(Stack("pg-stop"), 0);
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(p->Running()) << "the writer must survive a PostgreSQL outage";
  ASSERT_EQ(Stack("pg-start"), 0);
  auto code = p->Wait(180s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry"), static_cast<int64_t>(ids.size()));
  EXPECT_EQ(Count(db, "SELECT sum(next_offset) FROM consumer_offset"),
            static_cast<int64_t>(records.size()));
  testing::ExpectInvariants(db);
}

}  // namespace
}  // namespace lottery::writer
