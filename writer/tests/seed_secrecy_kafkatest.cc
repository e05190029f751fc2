// Nobody who can read the WAL learns a seed before its draw. A test_decoding slot is created on a
// fresh database before anything else happens; then lottery-writer (a child process) draws a
// lottery left started by a "crashed" writer under an older key, and ingests stakes through
// Kafka in two runs (protobuf, then JSON events), leaving some lotteries open. Every change of the
// whole run is read from the slot. For every seed an award revealed, no change before that
// award's outbox row contains it (raw bytes, hex in either case, base64, inside or outside
// bytea values); the seeds of the lotteries still open, and the keys, appear nowhere, neither in
// the WAL nor in the writer's log.

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/pg.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/hex.h"
#include "lottery/domain/seed.h"
#include "lottery/testing/stack.h"
#include "lottery/writer/seed_keys.h"
#include "lottery/writer/stake_parser.h"
#include "writer_test_util.h"

namespace lottery::writer {
namespace {

namespace d = lottery::domain;
using lottery::testing::TestDatabase;
using lottery::testing::UniqueName;
using lottery::testing::WaitFor;
using testing::AwardsByLottery;
using testing::Count;
using testing::NewId;

// A change as test_decoding prints it, plus the bytes of every bytea value in it ('\x…'), so a
// secret inside a protobuf or JSON payload is found as well as one printed as text.
struct Change {
  std::string text;
  std::string searchable;
};

Change MakeChange(std::string text) {
  Change c;
  c.searchable = text;
  for (size_t at = text.find("'\\x"); at != std::string::npos; at = text.find("'\\x", at + 1)) {
    size_t end = at + 3;
    while (end < text.size() && absl::ascii_isxdigit(static_cast<unsigned char>(text[end]))) ++end;
    auto bytes = d::FromHex(std::string_view(text).substr(at + 3, end - at - 3));
    if (bytes.ok()) c.searchable += "\n" + *bytes;
  }
  c.text = std::move(text);
  return c;
}

// Every encoding a secret could leak in.
std::vector<std::string> Encodings(std::string_view secret) {
  const std::string raw(secret);
  const std::string hex = d::ToHex(secret);
  std::string b64, web;
  absl::Base64Escape(raw, &b64);
  absl::WebSafeBase64Escape(raw, &web);
  return {raw, hex, absl::AsciiStrToUpper(hex), b64, web};
}

bool Contains(const std::string& haystack, std::string_view secret) {
  for (const std::string& e : Encodings(secret))
    if (haystack.find(e) != std::string::npos) return true;
  return false;
}

std::string AsBytes(const d::Seed& s) {
  return std::string(reinterpret_cast<const char*>(s.data()), s.size());
}

using lottery::testing::ReadFile;

TEST(SeedSecrecy, NoSeedReachesTheWalBeforeItsAwardAndNoKeyEver) {
  TestDatabase db("wal");
  auto conn = db.Connect();
  const std::string slot = UniqueName("seedscan");
  ASSERT_OK(pg::ExecCommand(conn.get(),
                            "SELECT pg_create_logical_replication_slot($1, 'test_decoding')",
                            {pg::Param::Text(slot)}));

  // Two keys: w0 seeded the lottery a crashed writer left started, w1 is active now.
  const std::string key_text = testing::NewSeedKeyText("w0") + "\n" + testing::NewSeedKeyText("w1");
  auto ring = SeedKeyring::Parse(key_text);
  ASSERT_OK(ring);
  const std::string key_file = ::testing::TempDir() + "/" + slot + ".keys";
  std::ofstream(key_file) << key_text;
  std::vector<std::string> keys;
  for (const std::string& entry :
       {key_text.substr(0, key_text.find('\n')), key_text.substr(key_text.find('\n') + 1)}) {
    keys.push_back(*d::FromHex(entry.substr(3)));
  }

  const std::string left = NewId(), left_game = NewId();
  const d::Seed left_seed = *ring->SeedFor("w0", *d::ParseUuid(left));
  ASSERT_OK(pg::ExecCommand(
      conn.get(),
      absl::StrCat("INSERT INTO lottery (id, game_id, status, players_needed, player_count, "
                   "entry_count, draw_mode, prize_policy, prize_bps, seed_key_id, commitment, "
                   "started_at) VALUES ('",
                   left, "', '", left_game,
                   "', 'started', 3, 3, 3, 'uniform', 'winner_stake', 3300, 'w0', '\\x",
                   d::ToHex(d::Commitment(left_seed)), "', now())")));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(pg::ExecCommand(
        conn.get(),
        absl::StrCat("INSERT INTO lottery_entry (id, lottery_id, player_id, game_id, stake, "
                     "status, entry_no, source_topic, source_partition, source_offset) VALUES ('",
                     NewId(), "', '", left, "', '", NewId(), "', '", left_game, "', 100, ",
                     "'started', ", i + 1, ", 't', 0, ", i, ")")));
  }

  // Two runs of the writer; 3 games x 10 players per run, N = 3: per game and run three lotteries
  // drawn; the tenth player's lottery stays open and fills in the second run.
  const std::string topic = UniqueName("seedscan_stakes");
  testing::CreateTopic(topic);
  const std::string group = UniqueName("seedscan_g");
  std::vector<std::string> games = {NewId(), NewId(), NewId()};
  std::vector<std::string> logs;
  for (const std::string format : {"protobuf", "json"}) {
    std::vector<lottery::testing::OutRecord> stakes;
    for (const std::string& g : games)
      for (int p = 0; p < 10; ++p)
        stakes.push_back(testing::StakeRecord(topic, NewId(), NewId(), g, "12.50"));
    lottery::testing::ProduceAll(stakes);
    const std::string log_name = UniqueName("seedscan_writer_" + format);
    auto writer = testing::StartWriter(
        db.dsn(), topic, group,
        {"--seed-key-file", key_file, "--players-per-lottery", "3", "--event-format", format,
         "--max-messages", std::to_string(stakes.size())},
        log_name);
    ASSERT_EQ(writer->Wait(std::chrono::seconds(120)), 0);
    logs.push_back(ReadFile(::testing::TempDir() + "/" + log_name + ".log"));
  }
  // 1 left started + 3 games x (3 + 3) drawn; the 20th player of each game waits in an open one.
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery WHERE status = 'finished'"), 19);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery WHERE status = 'in_waiting'"), 3);
  EXPECT_EQ(Count(db, "SELECT count(*) FROM lottery WHERE server_seed IS NOT NULL"), 0);
  testing::ExpectInvariants(db, /*created_events=*/false);

  // Every change of the whole run, in commit order.
  auto rows = pg::Exec(conn.get(), "SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)",
                       {pg::Param::Text(slot)});
  ASSERT_OK(rows);
  std::vector<Change> changes;
  for (int i = 0; i < PQntuples(rows->get()); ++i)
    changes.push_back(MakeChange(std::string(pg::Value(rows->get(), i, 0))));
  ASSERT_GT(changes.size(), 100u);

  const auto awards = AwardsByLottery(db);
  ASSERT_EQ(awards.size(), 19u);
  for (const auto& [lid, award] : awards) {
    SCOPED_TRACE("lottery " + lid);
    const std::string seed = award.proof().server_seed();
    const std::string key_id =
        db.Scalar("SELECT seed_key_id FROM lottery WHERE id = '" + lid + "'");
    EXPECT_EQ(seed, AsBytes(*ring->SeedFor(key_id, *d::ParseUuid(lid))));
    const std::string award_row =
        "id[uuid]:'" + d::FormatUuid(d::UuidV5(kDerivedIdNamespace, "awardCreated/" + lid)) + "'";
    size_t first = changes.size();
    for (size_t i = 0; i < changes.size() && first == changes.size(); ++i)
      if (Contains(changes[i].searchable, seed)) first = i;
    ASSERT_LT(first, changes.size()) << "the award itself was not found: the scan is blind";
    EXPECT_THAT(changes[first].text, ::testing::HasSubstr("table public.outbox: INSERT:"));
    EXPECT_THAT(changes[first].text, ::testing::HasSubstr(award_row))
        << "the seed appeared before its award, in: " << changes[first].text.substr(0, 300);
  }
  auto open =
      pg::Exec(conn.get(), "SELECT id, seed_key_id FROM lottery WHERE status = 'in_waiting'");
  ASSERT_OK(open);
  for (int i = 0; i < PQntuples(open->get()); ++i) {
    const std::string lid(pg::Value(open->get(), i, 0));
    const std::string seed =
        AsBytes(*ring->SeedFor(pg::Value(open->get(), i, 1), *d::ParseUuid(lid)));
    for (const Change& c : changes) EXPECT_FALSE(Contains(c.searchable, seed)) << c.text;
    for (const std::string& log : logs) EXPECT_FALSE(Contains(log, seed)) << "open seed in a log";
  }
  for (const std::string& key : keys) {
    for (const Change& c : changes) EXPECT_FALSE(Contains(c.searchable, key)) << c.text;
    for (const std::string& log : logs) EXPECT_FALSE(Contains(log, key)) << "a key in a log";
  }
  std::remove(key_file.c_str());
}

}  // namespace
}  // namespace lottery::writer
