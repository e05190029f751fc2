// The ingest transaction against a real PostgreSQL (no Kafka): lotteries fill with exactly N
// distinct players, start, are drawn with a verifiable proof; duplicates, rejections, fencing
// and the draw of a lottery left started.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/pg.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/hex.h"
#include "lottery/testing/stack.h"
#include "lottery/writer/ingest.h"
#include "writer_test_util.h"

namespace lottery::writer {
namespace {

using lottery::testing::TestDatabase;
using testing::Count;
using testing::ExpectInvariants;
using testing::NewId;
using testing::StakeJson;

constexpr char kTopic[] = "stakes";

RawMessage Stake(int partition, int64_t offset, const std::string& event, const std::string& player,
                 const std::string& game, const std::string& stake = "10") {
  RawMessage m;
  m.topic = kTopic;
  m.partition = partition;
  m.offset = offset;
  m.value = StakeJson(player, game, stake);
  m.headers.push_back({"uuid", event});
  return m;
}

IngestOptions Options(int players) {
  IngestOptions o;
  o.consumer_group = "g";
  o.default_players_needed = players;
  o.seed_keys = testing::TestKeyring();
  return o;
}

BatchResult Apply(PGconn* conn, std::vector<RawMessage> msgs, const IngestOptions& o,
                  std::map<TopicPartition, std::optional<int64_t>> expected = {}) {
  BatchInput in;
  in.messages = std::move(msgs);
  in.expected = std::move(expected);
  auto r = testing::Committed(ApplyBatch(conn, in, o));
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : BatchResult{};
}

TEST(Ingest, FillsStartsAndDrawsInOneTransaction) {
  TestDatabase db("wi");
  auto conn = db.Connect();
  std::string g1 = NewId(), g2 = NewId();
  std::vector<std::string> p;
  for (int i = 0; i < 6; ++i) p.push_back(NewId());
  // Game 1: A B A C | D E F  (N = 3): two lotteries started and drawn. Game 2: one open.
  std::vector<RawMessage> msgs = {
      Stake(0, 0, NewId(), p[0], g1),      Stake(0, 1, NewId(), p[1], g1, "5.5"),
      Stake(1, 0, NewId(), p[0], g1, "7"), Stake(1, 1, NewId(), p[2], g1),
      Stake(2, 0, NewId(), p[3], g2),      Stake(2, 1, NewId(), p[3], g1),
      Stake(2, 2, NewId(), p[4], g1),      Stake(2, 3, NewId(), p[5], g1)};
  BatchResult r = Apply(conn.get(), msgs, Options(3));
  EXPECT_EQ(r.entries, 8u);
  EXPECT_EQ(r.lotteries_opened, 3u);
  EXPECT_EQ(r.lotteries_started, 2u);
  EXPECT_EQ(r.lotteries_finished, 2u);
  EXPECT_EQ(r.awards, 2u);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery WHERE status = 'finished'"), 2);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery WHERE status = 'in_waiting' AND game_id = '" +
                          g2 + "'"),
            1);
  // The first lottery holds the first four stakes in consumption order (entry_no 1..4).
  EXPECT_EQ(
      db.Scalar("SELECT string_agg(player_id::text, ',' ORDER BY entry_no) FROM lottery_entry e "
                "JOIN lottery l ON l.id = e.lottery_id WHERE l.game_id = '" +
                g1 + "' AND l.entry_count = 4"),
      absl::StrCat(p[0], ",", p[1], ",", p[0], ",", p[2]));
  EXPECT_EQ(Count(db, "SELECT next_offset FROM consumer_offset WHERE partition = 2"), 4);
  EXPECT_EQ(Count(db, "SELECT next_offset FROM consumer_offset WHERE partition = 0"), 2);
  ExpectInvariants(db);
}

TEST(Ingest, DuplicatesWithinAndAcrossBatchesBecomeOneEntry) {
  TestDatabase db("wi");
  auto conn = db.Connect();
  std::string g = NewId(), e1 = NewId(), e2 = NewId(), pl = NewId();
  BatchResult a =
      Apply(conn.get(), {Stake(0, 0, e1, pl, g), Stake(1, 0, e1, pl, g), Stake(0, 1, e2, pl, g)},
            Options(3));
  EXPECT_EQ(a.entries, 2u);
  EXPECT_EQ(a.duplicates, 1u);
  BatchResult b = Apply(conn.get(), {Stake(0, 2, e1, pl, g), Stake(1, 1, e2, pl, g)}, Options(3),
                        {{{kTopic, 0}, 2}, {{kTopic, 1}, 1}});
  EXPECT_EQ(b.entries, 0u);
  EXPECT_EQ(b.duplicates, 2u);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry"), 2);
  EXPECT_EQ(Count(db, "SELECT entry_count FROM lottery"), 2);
  ExpectInvariants(db);
}

TEST(Ingest, RejectionsAndSkipsAdvanceTheOffsetWithDlqRows) {
  TestDatabase db("wi");
  auto conn = db.Connect();
  RawMessage bad = Stake(0, 0, NewId(), NewId(), NewId(), "-3");
  RawMessage other = Stake(0, 1, NewId(), NewId(), NewId());
  other.value = R"({"message":{"eventType":"player.registered"}})";
  RawMessage good = Stake(0, 2, NewId(), NewId(), NewId());
  BatchResult r = Apply(conn.get(), {bad, other, good}, Options(3));
  EXPECT_EQ(r.rejected, 1u);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.entries, 1u);
  EXPECT_EQ(db.Scalar("SELECT reason FROM rejected_stake"), "game.stake: negative");
  EXPECT_EQ(db.Scalar("SELECT convert_from(raw, 'UTF8') FROM rejected_stake"), bad.value);
  EXPECT_EQ(db.Scalar("SELECT headers->>'reason' FROM outbox WHERE type = 'stakeRejected'"),
            "game.stake: negative");
  EXPECT_EQ(db.Scalar("SELECT headers->>'source-offset' FROM outbox WHERE type = 'stakeRejected'"),
            "0");
  EXPECT_EQ(db.Scalar("SELECT topic FROM outbox WHERE type = 'stakeRejected'"),
            "player.v1.staked.dlq");
  EXPECT_EQ(
      db.Scalar("SELECT convert_from(payload, 'UTF8') FROM outbox WHERE type = 'stakeRejected'"),
      bad.value);
  EXPECT_EQ(Count(db, "SELECT next_offset FROM consumer_offset"), 3);
}

TEST(Ingest, FencedWhenPostgresHoldsAnotherOffset) {
  TestDatabase db("wi");
  auto conn = db.Connect();
  Apply(conn.get(), {Stake(0, 0, NewId(), NewId(), NewId())}, Options(3));
  // A writer that believes offset 0 is stored (a stale owner) may not commit anything.
  BatchInput in;
  in.messages = {Stake(0, 0, NewId(), NewId(), NewId())};
  in.expected = {{{kTopic, 0}, 0}};
  auto r = ApplyBatch(conn.get(), in, Options(3));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(std::holds_alternative<Fenced>(*r));
  EXPECT_EQ(std::get<Fenced>(*r).stored.at({kTopic, 0}), 1);
  // So may one that thinks there is no row.
  in.expected = {};
  r = ApplyBatch(conn.get(), in, Options(3));
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(std::holds_alternative<Fenced>(*r));
  EXPECT_EQ(std::get<Fenced>(*r).stored.at({kTopic, 0}), 1);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry"), 1);
}

TEST(Ingest, LotteryLeftStartedIsDrawnWithItsStoredSeed) {
  TestDatabase db("wi");
  auto conn = db.Connect();
  // A lottery as a crashed (older) writer could have left it: started, entries in, undrawn.
  auto seed = lottery::domain::GenerateSeed();
  ASSERT_TRUE(seed.ok());
  std::string lid = NewId(), gid = NewId();
  std::vector<lottery::domain::Entry> entries;
  ASSERT_TRUE(
      pg::ExecCommand(
          conn.get(),
          absl::StrCat("INSERT INTO lottery (id, game_id, status, players_needed, player_count, "
                       "entry_count, draw_mode, prize_policy, "
                       "prize_bps, server_seed, commitment, started_at) VALUES ('",
                       lid, "', '", gid,
                       "', 'started', 4, 4, 5, "
                       "'stake_weighted', 'pot', 2500, '\\x",
                       lottery::domain::ToHex(*seed), "', '\\x",
                       lottery::domain::ToHex(lottery::domain::Commitment(*seed)), "', now())"))
          .ok());
  std::vector<std::string> players = {NewId(), NewId(), NewId(), NewId(), NewId()};
  players[4] = players[1];
  for (int i = 0; i < 5; ++i) {
    int64_t stake = 100 * (i + 1);
    ASSERT_TRUE(
        pg::ExecCommand(conn.get(),
                        absl::StrCat("INSERT INTO lottery_entry (id, lottery_id, player_id, "
                                     "game_id, stake, status, entry_no, source_topic, "
                                     "source_partition, source_offset) VALUES ('",
                                     NewId(), "', '", lid, "', '", players[i], "', '", gid, "', ",
                                     stake, ", 'started', ", i + 1, ", 't', 0, ", i, ")"))
            .ok());
    entries.push_back({*lottery::domain::ParseUuid(players[i]), stake});
  }
  auto n = DrawLeftoverLotteries(conn.get(), Options(4));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  // Independent recomputation of the draw from the entries and the seed.
  auto parts =
      lottery::domain::ParticipantsFromEntries(lottery::domain::DrawMode::kStakeWeighted, entries);
  ASSERT_TRUE(parts.ok());
  auto res = lottery::domain::Draw(*lottery::domain::ParseUuid(lid), *seed, *parts);
  ASSERT_TRUE(res.ok());
  const auto& winner = (*parts)[res->winner_index];
  EXPECT_EQ(db.Scalar("SELECT player_id FROM lottery_award"),
            lottery::domain::FormatUuid(winner.player_id));
  EXPECT_EQ(Count(db, "SELECT win_sum FROM lottery_award"),
            (100 + 200 + 300 + 400 + 500) * 2500 / 10000);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry WHERE status = 'winner'"),
            winner.player_id == *lottery::domain::ParseUuid(players[1]) ? 2 : 1);
  EXPECT_EQ(*DrawLeftoverLotteries(conn.get(), Options(4)), 0);
  ExpectInvariants(db, /*created_events=*/false);
}

TEST(Ingest, JsonEventFormat) {
  TestDatabase db("wi");
  auto conn = db.Connect();
  IngestOptions o = Options(2);
  o.event_format = EventFormat::kJson;
  std::string g = NewId();
  Apply(conn.get(), {Stake(0, 0, NewId(), NewId(), g), Stake(0, 1, NewId(), NewId(), g)}, o);
  EXPECT_EQ(db.Scalar("SELECT content_type FROM outbox WHERE type = 'lotteryAwardCreated'"),
            "application/json; messageType=lottery.v1.AwardCreated");
  EXPECT_EQ(
      db.Scalar("SELECT (convert_from(payload, 'UTF8')::jsonb)->'proof'->>'algorithm' FROM outbox "
                "WHERE type = 'lotteryAwardCreated'"),
      "lottery-draw/v1");
}

}  // namespace
}  // namespace lottery::writer

namespace lottery::writer {
namespace {

// A 1 MB and a 10 MB stake are rejected, and neither their rejected_stake rows nor their DLQ
// outbox rows carry more than 64 KiB of them (a whole copy made the relay's records too large
// for the broker's default 1 MB limit): the length and SHA-256 identify what was received.
TEST(IngestRejections, AHugeStakeKeepsABoundedPrefixWithItsLengthAndHash) {
  TestDatabase db("wbig");
  auto conn = db.Connect();
  const std::vector<size_t> sizes = {1024 * 1024, 10 * 1024 * 1024};
  std::vector<RawMessage> msgs;
  for (size_t i = 0; i < sizes.size(); ++i) {
    RawMessage big = Stake(0, static_cast<int64_t>(i), NewId(), NewId(), NewId());
    big.value = std::string(sizes[i], 'x');
    big.headers.push_back({"content-type", std::string("application/x-protobuf; "
                                                       "messageType=lottery.v1.AwardCreated")});
    msgs.push_back(big);
  }
  BatchResult r = Apply(conn.get(), msgs, Options(3));
  EXPECT_EQ(r.rejected, 2u);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string at = absl::StrCat(" WHERE source_offset = ", i);
    const std::string dlq = absl::StrCat(
        " FROM outbox WHERE type = 'stakeRejected' AND headers->>'source-offset' = '", i, "'");
    EXPECT_EQ(db.Scalar("SELECT octet_length(raw) FROM rejected_stake" + at), "65536");
    EXPECT_EQ(db.Scalar("SELECT raw_length FROM rejected_stake" + at), std::to_string(sizes[i]));
    EXPECT_EQ(db.Scalar("SELECT raw_sha256 FROM rejected_stake" + at),
              KeepRaw(msgs[i].value).sha256_hex);
    EXPECT_EQ(db.Scalar("SELECT octet_length(payload)" + dlq), "65536");
    EXPECT_EQ(db.Scalar("SELECT headers->>'raw-length'" + dlq), std::to_string(sizes[i]));
    EXPECT_EQ(db.Scalar("SELECT headers->>'raw-truncated'" + dlq), "true");
    EXPECT_EQ(db.Scalar("SELECT headers->>'raw-sha256'" + dlq), KeepRaw(msgs[i].value).sha256_hex);
    // The whole DLQ record (payload, key, headers) fits the broker's default limit with room.
    EXPECT_LT(Count(db,
                    "SELECT octet_length(payload) + octet_length(headers::text) + "
                    "octet_length(aggregateid) + octet_length(content_type)" +
                        dlq),
              128 * 1024);
  }
  // The producer's content-type is kept as a header of its own; it does not decide how the
  // row's payload is decoded, and it does not collide with the relay's own content-type.
  EXPECT_EQ(Count(db,
                  "SELECT count(*) FROM outbox WHERE type = 'stakeRejected' AND "
                  "content_type = 'application/octet-stream' AND NOT headers ? 'content-type' "
                  "AND headers->>'source-content-type' LIKE '%AwardCreated'"),
            2);
}

}  // namespace
}  // namespace lottery::writer

namespace lottery::writer {
namespace {

// The same uuid header with another body (other game, 500.00) used to be counted as a duplicate
// and dropped without a trace. Within a batch and across batches it is now a rejection.
TEST(IngestRejections, ASameIdWithAnotherBodyIsAConflictingDuplicate) {
  TestDatabase db("wconf");
  auto conn = db.Connect();
  const std::string id = NewId(), player = NewId(), game = NewId();
  RawMessage first = Stake(0, 0, id, player, game, "10");
  RawMessage same = Stake(0, 1, id, player, game, "10");
  RawMessage other = Stake(0, 2, id, player, NewId(), "500.00");
  BatchResult r = Apply(conn.get(), {first, same, other}, Options(3));
  EXPECT_EQ(r.entries, 1u);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(r.conflicting_duplicates, 1u);
  EXPECT_EQ(r.rejected, 1u);
  RawMessage later = Stake(0, 3, id, player, game, "11");
  r = Apply(conn.get(), {later}, Options(3));
  EXPECT_EQ(r.conflicting_duplicates, 1u);
  EXPECT_EQ(
      Count(db, "SELECT count(*) FROM rejected_stake WHERE reason LIKE 'conflicting duplicate%'"),
      2);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM outbox WHERE type = 'stakeRejected'"), 2);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry"), 1);
}

}  // namespace
}  // namespace lottery::writer

namespace lottery::writer {
namespace {

// The stored entry is what an id stands for, whatever connection (writer run) stored it; a
// repeat with another body within the same later batch is compared with it, not with itself.
TEST(IngestRejections, ConflictsAreFoundAgainstEntriesOfAnEarlierRun) {
  TestDatabase db("wconf");
  const std::string id = NewId(), player = NewId(), game = NewId();
  {
    auto first_run = db.Connect();
    Apply(first_run.get(), {Stake(0, 0, id, player, game, "10")}, Options(3));
  }
  auto second_run = db.Connect();
  BatchResult r =
      Apply(second_run.get(),
            {Stake(0, 1, id, player, game, "500.00"), Stake(0, 2, id, player, game, "500.00"),
             Stake(0, 3, id, player, game, "10.00")},
            Options(3), {{{kTopic, 0}, 1}});
  EXPECT_EQ(r.entries, 0u);
  EXPECT_EQ(r.conflicting_duplicates, 2u);
  EXPECT_EQ(r.duplicates, 1u) << "10.00 is the same stake as 10";
  EXPECT_EQ(Count(db,
                  "SELECT count(*) FROM rejected_stake WHERE reason = 'conflicting duplicate: "
                  "this event id was already taken with stake (minor units) 1000 -> 50000'"),
            2);
  EXPECT_EQ(Count(db, "SELECT stake FROM lottery_entry"), 1000);
}

TEST(IngestSkips, SkipsAreCountedByEventType) {
  TestDatabase db("wskip");
  auto conn = db.Connect();
  std::vector<RawMessage> msgs;
  for (const char* type : {"player.registered", "player.left", "player.registered"}) {
    RawMessage m = Stake(0, static_cast<int64_t>(msgs.size()), NewId(), NewId(), NewId());
    m.value = absl::StrCat(R"({"message":{"eventType":")", type, R"("}})");
    msgs.push_back(m);
  }
  BatchResult r = Apply(conn.get(), msgs, Options(3));
  EXPECT_EQ(r.skipped, 3u);
  EXPECT_EQ(r.skipped_by_type,
            (std::map<std::string, uint64_t>{{"player.left", 1}, {"player.registered", 2}}));
  EXPECT_EQ(Count(db, "SELECT next_offset FROM consumer_offset"), 3);
}

}  // namespace
}  // namespace lottery::writer
