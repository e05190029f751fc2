// Derived seeds in the ingest transaction against a real PostgreSQL: new lotteries store only a
// key id and the commitment, draws reveal HMAC(key, "lottery-seed/v1" || id), a lottery left
// started is drawn with the re-derived seed, keys rotate, older rows with a stored seed keep
// working, and a key id the writer does not hold (or a different key under that id) is refused.
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/pg.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/hex.h"
#include "lottery/domain/seed.h"
#include "lottery/testing/stack.h"
#include "lottery/writer/ingest.h"
#include "writer_test_util.h"

namespace lottery::writer {
namespace {

namespace d = lottery::domain;
using lottery::testing::StatusIs;
using lottery::testing::TestDatabase;
using testing::AwardsByLottery;
using testing::Count;
using testing::ExpectInvariants;
using ::testing::HasSubstr;
using testing::NewId;
using testing::StakeJson;

const std::string kKeyOldHex(64, '1');
const std::string kKeyNewHex(64, '2');

std::shared_ptr<const SeedKeyring> Ring(const std::string& text) {
  auto ring = SeedKeyring::Parse(text);
  EXPECT_TRUE(ring.ok()) << ring.status();
  return std::make_shared<const SeedKeyring>(*ring);
}

IngestOptions Options(int players, std::shared_ptr<const SeedKeyring> keys) {
  IngestOptions o;
  o.consumer_group = "g";
  o.default_players_needed = players;
  o.seed_keys = std::move(keys);
  return o;
}

// Stakes of distinct players for `game` at offsets [from, from + n) of partition 0.
std::vector<RawMessage> Stakes(const std::string& game, int64_t from, int n) {
  std::vector<RawMessage> out;
  for (int i = 0; i < n; ++i) {
    RawMessage m;
    m.topic = "stakes";
    m.partition = 0;
    m.offset = from + i;
    m.value = StakeJson(NewId(), game, "10");
    m.headers.push_back({"uuid", NewId()});
    out.push_back(std::move(m));
  }
  return out;
}

absl::StatusOr<BatchResult> Apply(PGconn* conn, std::vector<RawMessage> msgs,
                                  const IngestOptions& o, std::optional<int64_t> expected) {
  BatchInput in;
  in.expected[{"stakes", 0}] = expected;
  in.messages = std::move(msgs);
  return testing::Committed(ApplyBatch(conn, in, o));
}

d::Seed Derived(const std::string& key_hex, const std::string& lottery_id) {
  return *d::DeriveSeed(*d::FromHex(key_hex), *d::ParseUuid(lottery_id));
}

// Inserts a lottery as an earlier writer left it, with `players` entries of stake 100.
void InsertLottery(PGconn* conn, const std::string& lid, const std::string& gid,
                   const std::string& status, int needed, int players, const std::string& seed_sql,
                   const std::string& key_id_sql, const d::Digest& commitment) {
  ASSERT_OK(pg::ExecCommand(
      conn,
      absl::StrCat("INSERT INTO lottery (id, game_id, status, players_needed, player_count, "
                   "entry_count, draw_mode, prize_policy, prize_bps, server_seed, "
                   "seed_key_id, commitment, started_at) VALUES ('",
                   lid, "', '", gid, "', '", status, "', ", needed, ", ", players, ", ", players,
                   ", 'uniform', 'winner_stake', 3300, ", seed_sql, ", ", key_id_sql, ", '\\x",
                   d::ToHex(commitment), "', ", status == "started" ? "now()" : "NULL", ")")));
  for (int i = 0; i < players; ++i) {
    ASSERT_OK(pg::ExecCommand(
        conn, absl::StrCat("INSERT INTO lottery_entry (id, lottery_id, player_id, game_id, stake, "
                           "status, entry_no, source_topic, source_partition, source_offset) "
                           "VALUES ('",
                           NewId(), "', '", lid, "', '", NewId(), "', '", gid, "', 100, '", status,
                           "', ", i + 1, ", 't', 0, ", i, ")")));
  }
}

TEST(Seeds, NewLotteriesStoreOnlyTheKeyIdAndTheCommitment) {
  TestDatabase db("ws");
  auto conn = db.Connect();
  const std::string game = NewId();
  auto r = Apply(conn.get(), Stakes(game, 0, 5), Options(3, Ring("k1:" + kKeyOldHex)),
                 std::nullopt);  // one lottery drawn, one left open
  ASSERT_OK(r);
  EXPECT_EQ(r->awards, 1u);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery"), 2);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery WHERE server_seed IS NOT NULL"), 0);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery WHERE seed_key_id = 'k1'"), 2);
  // The commitment of every lottery, open or drawn, is that of the derived seed.
  auto ids = pg::Exec(conn.get(), "SELECT id, encode(commitment, 'hex') FROM lottery");
  ASSERT_OK(ids);
  for (int i = 0; i < PQntuples(ids->get()); ++i) {
    const std::string lid(pg::Value(ids->get(), i, 0));
    EXPECT_EQ(pg::Value(ids->get(), i, 1), d::ToHex(d::Commitment(Derived(kKeyOldHex, lid))));
  }
  // The award reveals exactly the derived seed.
  auto awards = AwardsByLottery(db);
  ASSERT_EQ(awards.size(), 1u);
  const auto& [lid, award] = *awards.begin();
  EXPECT_EQ(d::ToHex(award.proof().server_seed()), d::ToHex(Derived(kKeyOldHex, lid)));
  ExpectInvariants(db);
}

TEST(Seeds, ALotteryLeftStartedIsDrawnWithItsReDerivedSeed) {
  TestDatabase db("ws");
  auto conn = db.Connect();
  const std::string lid = NewId(), gid = NewId();
  InsertLottery(conn.get(), lid, gid, "started", 3, 3, "NULL", "'k1'",
                d::Commitment(Derived(kKeyOldHex, lid)));
  auto n = DrawLeftoverLotteries(conn.get(), Options(3, Ring("k1:" + kKeyOldHex)));
  ASSERT_OK(n);
  EXPECT_EQ(*n, 1);
  auto awards = AwardsByLottery(db);
  ASSERT_EQ(awards.count(lid), 1u);
  EXPECT_EQ(d::ToHex(awards[lid].proof().server_seed()), d::ToHex(Derived(kKeyOldHex, lid)));
  ExpectInvariants(db, /*created_events=*/false);
}

TEST(Seeds, RotationKeepsDrawingOldLotteriesWithTheirOwnKey) {
  TestDatabase db("ws");
  auto conn = db.Connect();
  const std::string game = NewId();
  ASSERT_OK(
      Apply(conn.get(), Stakes(game, 0, 2), Options(3, Ring("k1:" + kKeyOldHex)), std::nullopt));
  const std::string first = db.Scalar("SELECT id FROM lottery");
  // Rotated: k2 is active now; k1 is still held for the lottery it seeded.
  auto rotated = Options(3, Ring("k1:" + kKeyOldHex + "\nk2:" + kKeyNewHex));
  ASSERT_OK(Apply(conn.get(), Stakes(game, 2, 2), rotated, 2));
  EXPECT_EQ(db.Scalar("SELECT seed_key_id FROM lottery WHERE id = '" + first + "'"), "k1");
  EXPECT_EQ(db.Scalar("SELECT seed_key_id FROM lottery WHERE id <> '" + first + "'"), "k2");
  auto awards = AwardsByLottery(db);
  ASSERT_EQ(awards.count(first), 1u);
  EXPECT_EQ(d::ToHex(awards[first].proof().server_seed()), d::ToHex(Derived(kKeyOldHex, first)));
  ExpectInvariants(db);
}

TEST(Seeds, AnOpenLotteryWithAStoredSeedIsStillFilledAndDrawnWithIt) {
  TestDatabase db("ws");
  auto conn = db.Connect();
  const std::string lid = NewId(), gid = NewId();
  auto seed = d::GenerateSeed();
  ASSERT_OK(seed);
  InsertLottery(conn.get(), lid, gid, "in_waiting", 3, 2, "'\\x" + d::ToHex(*seed) + "'", "NULL",
                d::Commitment(*seed));
  ASSERT_OK(
      Apply(conn.get(), Stakes(gid, 0, 1), Options(3, Ring("k1:" + kKeyOldHex)), std::nullopt));
  auto awards = AwardsByLottery(db);
  ASSERT_EQ(awards.count(lid), 1u);
  EXPECT_EQ(d::ToHex(awards[lid].proof().server_seed()), d::ToHex(*seed));
  ExpectInvariants(db, /*created_events=*/false);
}

TEST(Seeds, AKeyIdTheWriterDoesNotHoldIsRefusedNeverDrawn) {
  TestDatabase db("ws");
  auto conn = db.Connect();
  const std::string started = NewId(), open = NewId(), g1 = NewId(), g2 = NewId();
  InsertLottery(conn.get(), started, g1, "started", 3, 3, "NULL", "'k0'",
                d::Commitment(Derived(kKeyOldHex, started)));
  InsertLottery(conn.get(), open, g2, "in_waiting", 3, 2, "NULL", "'k0'",
                d::Commitment(Derived(kKeyOldHex, open)));
  const auto options = Options(3, Ring("k1:" + kKeyNewHex));
  EXPECT_THAT(DrawLeftoverLotteries(conn.get(), options).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("'k0'")));
  EXPECT_THAT(Apply(conn.get(), Stakes(g2, 0, 1), options, std::nullopt).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("does not hold")));
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_award"), 0);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM outbox"), 0);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_entry"), 5);  // the batch was not committed
  EXPECT_EQ(db.Scalar("SELECT status FROM lottery WHERE id = '" + started + "'"), "started");
}

TEST(Seeds, ADifferentKeyUnderTheSameIdIsRefused) {
  TestDatabase db("ws");
  auto conn = db.Connect();
  const std::string lid = NewId(), gid = NewId();
  InsertLottery(conn.get(), lid, gid, "started", 3, 3, "NULL", "'k1'",
                d::Commitment(Derived(kKeyOldHex, lid)));
  EXPECT_THAT(DrawLeftoverLotteries(conn.get(), Options(3, Ring("k1:" + kKeyNewHex))).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("commitment")));
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery_award"), 0);
}

TEST(Seeds, TheSchemaAllowsExactlyOneSeedSource) {
  TestDatabase db("ws");
  auto conn = db.Connect();
  const d::Digest c{};
  const std::string both = absl::StrCat(
      "INSERT INTO lottery (id, game_id, status, players_needed, draw_mode, prize_policy, "
      "prize_bps, server_seed, seed_key_id, commitment) VALUES (gen_random_uuid(), "
      "gen_random_uuid(), 'in_waiting', 3, 'uniform', 'winner_stake', 3300, '\\x",
      d::ToHex(c), "', 'k1', '\\x", d::ToHex(c), "')");
  EXPECT_THAT(pg::ExecCommand(conn.get(), both), StatusIs(absl::StatusCode::kInvalidArgument));
  const std::string neither = absl::StrCat(
      "INSERT INTO lottery (id, game_id, status, players_needed, draw_mode, prize_policy, "
      "prize_bps, commitment) VALUES (gen_random_uuid(), gen_random_uuid(), 'in_waiting', 3, "
      "'uniform', 'winner_stake', 3300, '\\x",
      d::ToHex(c), "')");
  EXPECT_THAT(pg::ExecCommand(conn.get(), neither), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace lottery::writer
