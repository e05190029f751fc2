// The roles of `lottery-migrate --roles` against a real PostgreSQL, in both directions: the
// writer's whole ingest path (batches that fill and draw lotteries, rejections, the draw of a
// lottery left started, the outbox prune) runs as lottery_writer, and lottery_writer can neither
// change the schema, schema_migrations or game_rule, nor read more than it needs elsewhere; the
// relay and admin roles get theirs; lottery-migrate with nothing to apply works for a role that
// can only read schema_migrations; a broken game_rule is a clear error.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/migrate.h"
#include "lottery/common/pg.h"
#include "lottery/common/roles.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/testing/stack.h"
#include "lottery/writer/ingest.h"
#include "writer_test_util.h"

namespace lottery::writer {
namespace {

using lottery::testing::StatusIs;
using lottery::testing::TestDatabase;
using testing::Count;
using ::testing::HasSubstr;
using testing::NewId;
using testing::StakeJson;

migrate::RoleOptions Passwords() {
  migrate::RoleOptions o;
  for (const char* role :
       {migrate::kOwnerRole, migrate::kWriterRole, migrate::kRelayRole, migrate::kAdminRole})
    o.passwords[role] = "test-only-password";
  return o;
}

pg::ConnPtr ConnectAs(const TestDatabase& db, const std::string& role) {
  // libpq keyword/value strings: the last user= wins.
  auto conn = pg::Connect(absl::StrCat(db.dsn(), " user=", role, " password=test-only-password"));
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? std::move(*conn) : nullptr;
}

void ExpectDenied(PGconn* conn, const std::string& sql) {
  absl::Status st = pg::ExecCommand(conn, sql);
  EXPECT_FALSE(st.ok()) << "allowed: " << sql;
  EXPECT_THAT(std::string(st.message()), HasSubstr("42501")) << sql;  // insufficient_privilege
}

RawMessage Stake(int64_t offset, const std::string& game, const std::string& stake = "10") {
  RawMessage m;
  m.topic = "stakes";
  m.partition = 0;
  m.offset = offset;
  m.value = StakeJson(NewId(), game, stake);
  m.headers.push_back({"uuid", NewId()});
  return m;
}

IngestOptions Options() {
  IngestOptions o;
  o.consumer_group = "g";
  o.default_players_needed = 2;
  o.seed_keys = testing::TestKeyring();
  return o;
}

TEST(Roles, ApplyingThemTwiceIsANoOp) {
  TestDatabase db("roles");
  auto admin = db.Connect();
  ASSERT_OK(migrate::ApplyRoles(admin.get(), Passwords()));
  ASSERT_OK(migrate::ApplyRoles(admin.get(), {}));  // no passwords: logins stay as they were
  EXPECT_EQ(db.Scalar("SELECT string_agg(rolname || ':' || rolcanlogin || rolreplication || "
                      "rolsuper || rolcreaterole || rolcreatedb, ',' ORDER BY rolname) FROM "
                      "pg_roles WHERE rolname LIKE 'lottery\\_%'"),
            "lottery_admin:truefalsefalsefalsefalse,lottery_owner:truefalsefalsefalsefalse,"
            "lottery_relay:truetruefalsefalsefalse,lottery_writer:truefalsefalsefalsefalse");
  EXPECT_EQ(Count(db,
                  "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND "
                  "tableowner <> 'lottery_owner'"),
            0);
  EXPECT_EQ(db.Scalar("SELECT pubowner::regrole::text FROM pg_publication WHERE pubname = "
                      "'lottery_outbox'"),
            "lottery_owner");
}

TEST(Roles, TheWritersWholeIngestPathRunsAsLotteryWriter) {
  TestDatabase db("roles");
  ASSERT_OK(migrate::ApplyRoles(db.Connect().get(), Passwords()));
  auto conn = ConnectAs(db, migrate::kWriterRole);
  ASSERT_NE(conn, nullptr);
  const std::string g = NewId();
  BatchInput in;
  in.messages = {Stake(0, g), Stake(1, g), Stake(2, g, "-1"), Stake(3, g)};
  auto r = testing::Committed(ApplyBatch(conn.get(), in, Options()));
  ASSERT_OK(r);
  EXPECT_EQ(r->awards, 1u);
  EXPECT_EQ(r->rejected, 1u);
  // A repeat (stored-id lookup), then the next batch on the stored offset.
  BatchInput again;
  again.messages = {Stake(4, g)};
  again.messages[0].headers = in.messages[0].headers;
  again.messages[0].value = in.messages[0].value;
  again.expected[{"stakes", 0}] = 4;
  auto r2 = testing::Committed(ApplyBatch(conn.get(), again, Options()));
  ASSERT_OK(r2);
  EXPECT_EQ(r2->duplicates, 1u);
  ASSERT_OK(DrawLeftoverLotteries(conn.get(), Options()));
  ASSERT_OK(ReadOffsets(conn.get(), "g", {{"stakes", 0}}));
  ASSERT_OK(PruneOutbox(conn.get(), 86400, 1000));  // the statement, not a deletion
  testing::ExpectInvariants(db);
}

TEST(Roles, TheWriterCannotChangeTheSchemaTheMigrationsOrTheRules) {
  TestDatabase db("roles");
  ASSERT_OK(migrate::ApplyRoles(db.Connect().get(), Passwords()));
  auto conn = ConnectAs(db, migrate::kWriterRole);
  ASSERT_NE(conn, nullptr);
  for (const std::string sql : {
           "UPDATE schema_migrations SET checksum = 'x'",
           "DELETE FROM schema_migrations",
           "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'x', 'x')",
           "UPDATE game_rule SET players_needed = 2",
           "DELETE FROM game_rule",
           "INSERT INTO game_rule (game_id, players_needed, draw_mode, prize_policy, prize_bps) "
           "VALUES (gen_random_uuid(), 2, 'uniform', 'pot', 10000)",
           "DROP TABLE outbox",
           "ALTER TABLE lottery ADD COLUMN x int",
           "ALTER TABLE lottery DROP CONSTRAINT lottery_one_seed_source",
           "TRUNCATE outbox",
           "TRUNCATE lottery_entry",
           "CREATE TABLE evil (x int)",
           "DROP PUBLICATION lottery_outbox",
           "ALTER PUBLICATION lottery_outbox ADD TABLE lottery",
           "DELETE FROM lottery",
           "DELETE FROM lottery_award",
           "UPDATE lottery_award SET win_sum = 1",
           "SELECT * FROM lottery_award",
           "DELETE FROM rejected_stake",
           "SELECT raw FROM rejected_stake",
       }) {
    ExpectDenied(conn.get(), sql);
  }
}

TEST(Roles, RelayAndAdminGetOnlyTheirTables) {
  TestDatabase db("roles");
  ASSERT_OK(migrate::ApplyRoles(db.Connect().get(), Passwords()));
  auto relay = ConnectAs(db, migrate::kRelayRole);
  ASSERT_NE(relay, nullptr);
  ASSERT_OK(pg::Exec(relay.get(), "SELECT count(*), min(seq) FROM outbox").status());
  ExpectDenied(relay.get(), "SELECT * FROM lottery");
  ExpectDenied(relay.get(), "SELECT * FROM lottery_entry");
  ExpectDenied(relay.get(),
               "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, "
               "payload) VALUES (gen_random_uuid(), 'a', 'a', 'lotteryAwardCreated', 't', 'c', "
               "'\\x00')");
  auto admin = ConnectAs(db, migrate::kAdminRole);
  ASSERT_NE(admin, nullptr);
  ASSERT_OK(pg::ExecCommand(admin.get(), "UPDATE game_rule SET prize_bps = 3000"));
  ExpectDenied(admin.get(), "SELECT * FROM lottery");
  ExpectDenied(admin.get(), "DELETE FROM outbox");
}

TEST(Roles, MigrateWithNothingToApplyNeedsOnlyToReadSchemaMigrations) {
  TestDatabase db("roles");
  ASSERT_OK(migrate::ApplyRoles(db.Connect().get(), Passwords()));
  auto conn = ConnectAs(db, migrate::kWriterRole);
  ASSERT_NE(conn, nullptr);
  auto report = migrate::Apply(conn.get(), migrate::EmbeddedMigrations());
  ASSERT_OK(report);
  EXPECT_TRUE(report->applied.empty());
  EXPECT_EQ(report->already_applied, static_cast<int>(migrate::EmbeddedMigrations().size()));
  // And the owner can run a real migration.
  auto owner = ConnectAs(db, migrate::kOwnerRole);
  ASSERT_NE(owner, nullptr);
  std::vector<migrate::Migration> more = migrate::EmbeddedMigrations();
  more.push_back({9999, "9999_test.sql", "ALTER TABLE lottery ADD COLUMN test_only int;"});
  auto applied = migrate::Apply(owner.get(), more);
  ASSERT_OK(applied);
  EXPECT_EQ(applied->applied.size(), 1u);
}

TEST(GameRules, ABrokenRuleIsAClearErrorNotAStall) {
  TestDatabase db("roles");
  auto conn = db.Connect();
  // The table's CHECKs already refuse these; drop them to play a rule edited past them.
  for (const char* c : {"game_rule_players_needed_check", "game_rule_prize_bps_check"})
    ASSERT_OK(
        pg::ExecCommand(conn.get(), absl::StrCat("ALTER TABLE game_rule DROP CONSTRAINT ", c)));
  const std::string g = NewId();
  const std::pair<std::string, std::string> broken[] = {
      {"players_needed = 1", "players_needed 1 below 2"},
      {"prize_bps = 10001", "prize_bps 10001 not in 0..10000"},
      {"prize_bps = -1", "prize_bps -1 not in 0..10000"},
  };
  IngestOptions options = Options();
  options.default_players_needed = 0;
  for (const auto& [set, why] : broken) {
    SCOPED_TRACE(set);
    ASSERT_OK(
        pg::ExecCommand(conn.get(), "UPDATE game_rule SET players_needed = 10, prize_bps = 3300"));
    ASSERT_OK(pg::ExecCommand(conn.get(), "UPDATE game_rule SET " + set));
    BatchInput in;
    in.messages = {Stake(0, g)};
    EXPECT_THAT(ApplyBatch(conn.get(), in, options).status(),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         ::testing::AllOf(
                             HasSubstr("game_rule 00000000-0000-0000-0000-000000000000 is invalid"),
                             HasSubstr(why))));
  }
  ASSERT_OK(pg::ExecCommand(conn.get(), "DELETE FROM game_rule"));
  BatchInput in;
  in.messages = {Stake(0, g)};
  EXPECT_THAT(ApplyBatch(conn.get(), in, options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no default")));
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry"), 0);
}

}  // namespace
}  // namespace lottery::writer
