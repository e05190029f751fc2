#include "writer_test_util.h"

#include <google/protobuf/util/json_util.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lottery/common/kafka.h"
#include "lottery/common/pg.h"
#include "lottery/common/roles.h"
#include "lottery/domain/award.h"
#include "lottery/domain/hex.h"
#include "lottery/domain/uuid.h"

namespace lottery::writer::testing {

std::string StakeJson(const std::string& player, const std::string& game,
                      const std::string& stake) {
  return R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":")" + player +
         R"(","gameId":")" + game + R"(","stake":")" + stake + R"("}})";
}

std::string NewId() { return lottery::domain::FormatUuid(lottery::domain::NewRandomUuid()); }

lottery::testing::OutRecord StakeRecord(const std::string& topic, const std::string& event_id,
                                        const std::string& player, const std::string& game,
                                        const std::string& stake, int partition) {
  lottery::testing::OutRecord r;
  r.topic = topic;
  r.value = StakeJson(player, game, stake);
  r.headers = {{"uuid", event_id}};
  r.partition = partition;
  return r;
}

std::string NewSeedKeyText(const std::string& id) {
  unsigned char key[32];
  if (RAND_bytes(key, sizeof key) != 1) std::abort();
  return id + ":" +
         lottery::domain::ToHex(std::string_view(reinterpret_cast<const char*>(key), sizeof key));
}

std::shared_ptr<const SeedKeyring> TestKeyring() {
  static const auto* ring = [] {
    const char* env = std::getenv("LOTTERY_SEED_KEYS");
    auto loaded = LoadSeedKeyring("", env != nullptr ? env : NewSeedKeyText("test"));
    if (!loaded.ok()) std::abort();
    return new std::shared_ptr<const SeedKeyring>(*loaded);
  }();
  return *ring;
}

void CreateTopic(const std::string& topic, int partitions) {
  absl::Status st =
      lottery::kafka::CreateTopics(lottery::testing::KafkaBootstrap(), {{topic, partitions}});
  ASSERT_TRUE(st.ok()) << st;
}

std::unique_ptr<lottery::testing::Process> StartWriter(const std::string& db_dsn,
                                                       const std::string& topic,
                                                       const std::string& group,
                                                       const std::vector<std::string>& extra_args,
                                                       const std::string& log_name) {
  // The writer runs as lottery_writer (lottery-migrate --roles), so a missing grant fails the
  // test. The local stack trusts 127.0.0.1; the password is for servers that do not.
  {
    auto admin = pg::Connect(db_dsn);
    EXPECT_TRUE(admin.ok()) << admin.status();
    lottery::migrate::RoleOptions roles;
    roles.passwords[lottery::migrate::kWriterRole] = lottery::testing::kTestRolePassword;
    if (admin.ok()) {
      absl::Status st = lottery::migrate::ApplyRoles(admin->get(), roles);
      EXPECT_TRUE(st.ok()) << st;
    }
  }
  std::vector<std::string> argv = {lottery::testing::BinaryPath("lottery-writer"),
                                   "--pg-dsn",
                                   db_dsn + " user=lottery_writer",
                                   "--kafka-bootstrap",
                                   lottery::testing::KafkaBootstrap(),
                                   "--stake-topic",
                                   topic,
                                   "--consumer-group",
                                   group,
                                   "--kafka-prop",
                                   "session.timeout.ms=6000",
                                   "--kafka-prop",
                                   "heartbeat.interval.ms=500"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  if (std::find(extra_args.begin(), extra_args.end(), "--metrics-addr") == extra_args.end()) {
    argv.insert(argv.end(), {"--metrics-addr", "off"});
  }
  std::string log = absl::StrCat(::testing::TempDir(), "/", log_name, ".log");
  // The password travels in the environment, never on a command line.
  return std::make_unique<lottery::testing::Process>(
      argv, std::map<std::string, std::string>{{"PGPASSWORD", lottery::testing::kTestRolePassword}},
      log);
}

int64_t Count(const lottery::testing::TestDatabase& db, const std::string& sql) {
  std::string v = db.Scalar(sql);
  return v.empty() ? 0 : std::stoll(v);
}

namespace {

// An outbox award row (payload, content_type) in either event format.
bool ParseAwardRow(const PGresult* r, int row, lottery::v1::AwardCreated& award) {
  auto bytes = pg::DecodeByteaHex(pg::Value(r, row, 0));
  if (!bytes.ok()) return false;
  if (pg::Value(r, row, 1).starts_with("application/json")) {
    return google::protobuf::util::JsonStringToMessage(*bytes, &award).ok();
  }
  return award.ParseFromString(*bytes);
}

}  // namespace

absl::StatusOr<BatchResult> Committed(absl::StatusOr<BatchOutcome> outcome) {
  if (!outcome.ok()) return outcome.status();
  if (const auto* fenced = std::get_if<Fenced>(&*outcome)) {
    std::string parts;
    for (const auto& [tp, stored] : fenced->stored) {
      absl::StrAppend(&parts, " ", tp.first, "[", tp.second, "]@", stored);
    }
    return absl::FailedPreconditionError(absl::StrCat("fenced:", parts));
  }
  return std::get<BatchResult>(std::move(*outcome));
}

void ExpectInvariants(const lottery::testing::TestDatabase& db, bool created_events) {
  EXPECT_EQ(Count(db,
                  "SELECT count(*) FROM (SELECT game_id FROM lottery WHERE status = 'in_waiting' "
                  "GROUP BY game_id HAVING count(*) > 1) x"),
            0);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery WHERE status = 'started'"), 0)
      << "undrawn lottery";
  EXPECT_EQ(
      Count(
          db,
          "SELECT count(*) FROM lottery l WHERE player_count <> (SELECT count(DISTINCT player_id) "
          "FROM lottery_entry e WHERE e.lottery_id = l.id) OR entry_count <> (SELECT count(*) "
          "FROM lottery_entry e WHERE e.lottery_id = l.id)"),
      0)
      << "counts disagree with entries";
  EXPECT_EQ(Count(db,
                  "SELECT count(*) FROM lottery l WHERE (SELECT coalesce(array_agg(entry_no ORDER "
                  "BY entry_no), "
                  "'{}') FROM lottery_entry e WHERE e.lottery_id = l.id) <> "
                  "(SELECT coalesce(array_agg(g), '{}') FROM generate_series(1, l.entry_count) g)"),
            0)
      << "entry_no is not 1..entry_count";
  EXPECT_EQ(Count(db,
                  "SELECT count(*) FROM lottery WHERE status = 'finished' AND player_count <> "
                  "players_needed"),
            0);
  EXPECT_EQ(Count(db,
                  "SELECT count(*) FROM lottery l WHERE status = 'finished' AND "
                  "(SELECT count(*) FROM lottery_award a WHERE a.lottery_id = l.id) <> 1"),
            0);
  EXPECT_EQ(
      Count(db,
            "SELECT count(*) FROM lottery l WHERE status = 'finished' AND "
            "(SELECT count(DISTINCT player_id) FROM lottery_entry e WHERE e.lottery_id = l.id "
            "AND e.status = 'winner') <> 1"),
      0);
  EXPECT_EQ(Count(db,
                  "SELECT count(*) FROM lottery_entry e JOIN lottery l ON l.id = e.lottery_id "
                  "WHERE l.status = 'finished' AND e.status NOT IN ('winner', 'finished')"),
            0);
  if (created_events) {
    EXPECT_EQ(Count(db,
                    "SELECT count(*) FROM lottery l LEFT JOIN (SELECT aggregateid, count(*) AS n "
                    "FROM outbox WHERE type = 'lotteryCreated' GROUP BY aggregateid) o "
                    "ON o.aggregateid = l.id::text WHERE coalesce(o.n, 0) <> 1"),
              0);
  }
  EXPECT_EQ(Count(db,
                  "SELECT count(*) FROM lottery l LEFT JOIN (SELECT aggregateid, count(*) AS n "
                  "FROM outbox WHERE type = 'lotteryStarted' GROUP BY aggregateid) o "
                  "ON o.aggregateid = l.id::text WHERE l.status = 'finished' AND "
                  "coalesce(o.n, 0) <> 1"),
            0)
      << "a drawn lottery without its lotteryStarted event";
  EXPECT_EQ(Count(db, "SELECT count(*) FROM outbox WHERE type = 'lotteryAwardCreated'"),
            Count(db, "SELECT count(*) FROM lottery WHERE status = 'finished'"));

  // Every award event verifies and matches the stored award.
  pg::ConnPtr conn = db.Connect();
  auto awards = pg::Exec(conn.get(),
                         "SELECT o.payload, o.content_type FROM outbox o "
                         "WHERE o.type = 'lotteryAwardCreated'");
  ASSERT_TRUE(awards.ok()) << awards.status();
  for (int i = 0; i < PQntuples(awards->get()); ++i) {
    lottery::v1::AwardCreated award;
    ASSERT_TRUE(ParseAwardRow(awards->get(), i, award));
    absl::Status v = lottery::domain::VerifyAward(award);
    EXPECT_TRUE(v.ok()) << v;
    EXPECT_EQ(Count(db, absl::StrCat("SELECT count(*) FROM lottery_award WHERE lottery_id = '",
                                     award.lottery_id(), "' AND player_id = '", award.player_id(),
                                     "' AND win_sum = ", award.win_sum_minor())),
              1)
        << "award event disagrees with lottery_award for " << award.lottery_id();
    // The revealed seed is the one committed to when the lottery was created.
    EXPECT_EQ(db.Scalar(absl::StrCat("SELECT encode(commitment, 'hex') FROM lottery WHERE id = '",
                                     award.lottery_id(), "'")),
              lottery::domain::ToHex(award.proof().commitment()))
        << "award of " << award.lottery_id() << " reveals a seed of another commitment";
  }
}

std::map<std::string, lottery::v1::AwardCreated> AwardsByLottery(
    const lottery::testing::TestDatabase& db) {
  std::map<std::string, lottery::v1::AwardCreated> out;
  pg::ConnPtr conn = db.Connect();
  auto awards = pg::Exec(
      conn.get(), "SELECT payload, content_type FROM outbox WHERE type = 'lotteryAwardCreated'");
  EXPECT_TRUE(awards.ok()) << awards.status();
  if (!awards.ok()) return out;
  for (int i = 0; i < PQntuples(awards->get()); ++i) {
    lottery::v1::AwardCreated award;
    EXPECT_TRUE(ParseAwardRow(awards->get(), i, award));
    out[award.lottery_id()] = award;
  }
  return out;
}

}  // namespace lottery::writer::testing
