#include "writer_test_util.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lottery/common/kafka.h"
#include "lottery/common/pg.h"
#include "lottery/domain/award.h"
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
  std::vector<std::string> argv = {lottery::testing::BinaryPath("lottery-writer"),
                                   "--pg-dsn",
                                   db_dsn,
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
  return std::make_unique<lottery::testing::Process>(argv, std::map<std::string, std::string>{},
                                                     log);
}

int64_t Count(const lottery::testing::TestDatabase& db, const std::string& sql) {
  std::string v = db.Scalar(sql);
  return v.empty() ? 0 : std::stoll(v);
}

void ExpectInvariants(const lottery::testing::TestDatabase& db, bool lifecycle_events) {
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
  if (lifecycle_events) {
    EXPECT_EQ(Count(db,
                    "SELECT count(*) FROM lottery l WHERE (SELECT count(*) FROM outbox o WHERE "
                    "o.type = 'lotteryCreated' AND o.aggregateid = l.id::text) <> 1"),
              0);
    EXPECT_EQ(Count(db,
                    "SELECT count(*) FROM lottery l WHERE status = 'finished' AND (SELECT count(*) "
                    "FROM outbox o "
                    "WHERE o.type = 'lotteryStarted' AND o.aggregateid = l.id::text) <> 1"),
              0);
  }
  EXPECT_EQ(Count(db, "SELECT count(*) FROM outbox WHERE type = 'lotteryAwardCreated'"),
            Count(db, "SELECT count(*) FROM lottery WHERE status = 'finished'"));

  // Every award event verifies and matches the stored award.
  pg::ConnPtr conn = db.Connect();
  auto awards =
      pg::Exec(conn.get(), "SELECT o.payload FROM outbox o WHERE o.type = 'lotteryAwardCreated'");
  ASSERT_TRUE(awards.ok()) << awards.status();
  for (int i = 0; i < PQntuples(awards->get()); ++i) {
    auto bytes = pg::DecodeByteaHex(pg::Value(awards->get(), i, 0));
    ASSERT_TRUE(bytes.ok());
    lottery::v1::AwardCreated award;
    ASSERT_TRUE(award.ParseFromString(*bytes));
    absl::Status v = lottery::domain::VerifyAward(award);
    EXPECT_TRUE(v.ok()) << v;
    EXPECT_EQ(Count(db, absl::StrCat("SELECT count(*) FROM lottery_award WHERE lottery_id = '",
                                     award.lottery_id(), "' AND player_id = '", award.player_id(),
                                     "' AND win_sum = ", award.win_sum_minor())),
              1)
        << "award event disagrees with lottery_award for " << award.lottery_id();
  }
}

}  // namespace lottery::writer::testing
