// Migrations against the real PostgreSQL: idempotent, tamper-evident, safe when concurrent.
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/migrate.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/testing/stack.h"

namespace lottery {
namespace {

using ::lottery::testing::StatusIs;
using ::lottery::testing::TestDatabase;

TEST(MigrationsTest, ApplyingTwiceIsANoOp) {
  TestDatabase db("mig", /*migrate=*/false);
  auto conn = db.Connect();
  const auto& all = migrate::EmbeddedMigrations();
  ASSERT_FALSE(all.empty());
  auto first = migrate::Apply(conn.get(), all);
  ASSERT_OK(first);
  EXPECT_EQ(first->applied.size(), all.size());
  std::string tables_before =
      db.Scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
  auto second = migrate::Apply(conn.get(), all);
  ASSERT_OK(second);
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(second->already_applied, static_cast<int>(all.size()));
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM schema_migrations"), std::to_string(all.size()));
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), tables_before);
  // The contract tables and the publication exist.
  for (const char* t : {"lottery", "lottery_entry", "lottery_award", "outbox", "consumer_offset",
                        "rejected_stake", "game_rule"}) {
    EXPECT_EQ(
        db.Scalar(std::string("SELECT count(*) FROM pg_tables WHERE tablename = '") + t + "'"), "1")
        << t;
  }
  EXPECT_EQ(
      db.Scalar("SELECT pubinsert::text || pubupdate::text || pubdelete::text || pubtruncate::text "
                "FROM pg_publication WHERE pubname = 'lottery_outbox'"),
      "truefalsefalsefalse");
  EXPECT_EQ(db.Scalar("SELECT players_needed FROM game_rule WHERE game_id = "
                      "'00000000-0000-0000-0000-000000000000'"),
            "10");
}

TEST(MigrationsTest, TamperedAppliedFileIsRefused) {
  TestDatabase db("mig", /*migrate=*/false);
  auto conn = db.Connect();
  std::vector<migrate::Migration> all = migrate::EmbeddedMigrations();
  ASSERT_OK(migrate::Apply(conn.get(), all));
  all[0].sql += "\n-- edited after it was applied\n";
  all.push_back({9999, "9999_never.sql", "CREATE TABLE must_not_exist (x int);"});
  auto again = migrate::Apply(conn.get(), all);
  EXPECT_THAT(again, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(std::string(again.status().message()), ::testing::HasSubstr(all[0].name));
  // Nothing after the check ran.
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'must_not_exist'"), "0");
}

TEST(MigrationsTest, FailingMigrationLeavesNothingBehind) {
  TestDatabase db("mig", /*migrate=*/false);
  auto conn = db.Connect();
  std::vector<migrate::Migration> all = migrate::EmbeddedMigrations();
  all.push_back(
      {9998, "9998_broken.sql", "CREATE TABLE half_done (x int); SELECT no_such_function();"});
  EXPECT_FALSE(migrate::Apply(conn.get(), all).ok());
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'half_done'"), "0");
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM schema_migrations WHERE version = 9998"), "0");
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM schema_migrations"),
            std::to_string(migrate::EmbeddedMigrations().size()));
}

TEST(MigrationsTest, ConcurrentMigratorsEndWithOneAppliedSet) {
  TestDatabase db("mig", /*migrate=*/false);
  constexpr int kMigrators = 4;
  std::vector<absl::StatusOr<migrate::Report>> reports(kMigrators, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kMigrators; ++i) {
    threads.emplace_back([&, i] {
      auto conn = pg::Connect(db.dsn());
      if (!conn.ok()) {
        reports[i] = conn.status();
        return;
      }
      reports[i] = migrate::Apply(conn->get(), migrate::EmbeddedMigrations());
    });
  }
  for (auto& t : threads) t.join();
  size_t applied_total = 0;
  for (const auto& r : reports) {
    ASSERT_OK(r);
    applied_total += r->applied.size();
  }
  EXPECT_EQ(applied_total, migrate::EmbeddedMigrations().size());
  EXPECT_EQ(db.Scalar("SELECT count(*) FROM schema_migrations"),
            std::to_string(migrate::EmbeddedMigrations().size()));
}

TEST(MigrationsTest, OneOpenLotteryPerGameIsEnforcedByTheDatabase) {
  TestDatabase db("mig");
  auto conn = db.Connect();
  const std::string insert =
      "INSERT INTO lottery (id, game_id, status, players_needed, draw_mode, prize_policy, "
      "prize_bps, "
      "server_seed, commitment) VALUES (gen_random_uuid(), '11111111-1111-1111-1111-111111111111', "
      "'in_waiting', 10, 'uniform', 'winner_stake', 3300, decode(repeat('00', 32), 'hex'), "
      "decode(repeat('00', 32), 'hex'))";
  ASSERT_OK(pg::ExecCommand(conn.get(), insert));
  EXPECT_THAT(pg::ExecCommand(conn.get(), insert), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace lottery
