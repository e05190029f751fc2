// PlanBatch without a server: the decisions of a batch from values (batch_plan.h).
#include "lottery/writer/batch_plan.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/domain/award.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/hex.h"

namespace lottery::writer {
namespace {

namespace d = lottery::domain;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

d::Uuid U(int n) {
  d::Uuid u{};
  u[0] = static_cast<uint8_t>(n >> 8);
  u[1] = static_cast<uint8_t>(n);
  u[6] = 0x40;
  u[8] = 0x80;
  return u;
}
std::string S(int n) { return d::FormatUuid(U(n)); }

// Ids: 1xx players, 2xx games, 3xx events, 9xx lotteries made by the plan.
class PlanTest : public ::testing::Test {
 protected:
  PlanTest() {
    auto keys = SeedKeyring::Parse("k1:" + std::string(64, 'a'));
    EXPECT_TRUE(keys.ok()) << keys.status();
    options_.seed_keys = std::make_shared<const SeedKeyring>(*keys);
    state_.rules.default_rule.players_needed = 3;
  }

  // A stake record of the game service, at offset `offset` of partition 0.
  void AddStake(int event, int player, int game, const std::string& stake = "10") {
    RawMessage& m = messages_.emplace_back();
    m.topic = "player.v1.staked";
    m.offset = static_cast<int64_t>(messages_.size()) - 1;
    m.value =
        absl::StrCat(R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":")",
                     S(player), R"(","gameId":")", S(game), R"(","stake":")", stake, R"("}})");
    m.headers.push_back({"uuid", S(event)});
  }
  void AddRaw(std::string value) {
    RawMessage& m = messages_.emplace_back();
    m.topic = "player.v1.staked";
    m.offset = static_cast<int64_t>(messages_.size()) - 1;
    m.value = std::move(value);
  }

  StoredLottery& Stored(d::LotteryStatus status, int lottery, int game,
                        std::vector<std::pair<int, int64_t>> entries) {
    StoredLottery& l =
        (status == d::LotteryStatus::kInWaiting ? state_.open : state_.leftover).emplace_back();
    l.id = U(lottery);
    l.game_id = U(game);
    l.status = status;
    l.players_needed = 3;
    l.rule.players_needed = 3;
    l.seed.fill(7);
    for (auto [player, stake] : entries) l.entries.push_back(d::Entry{U(player), stake});
    return l;
  }

  absl::StatusOr<BatchPlan> Plan() {
    batch_ = ParseBatch(messages_, options_.parse);
    int next = 900;
    PlanContext context{absl::FromUnixSeconds(1'700'000'000), [&next] { return U(next++); },
                        &options_};
    return PlanBatch(state_, batch_, context);
  }

  static std::vector<std::string> Types(const BatchPlan& plan) {
    std::vector<std::string> out;
    for (const OutboxRow& r : plan.outbox) out.push_back(r.type + " " + r.aggregateid);
    return out;
  }

  IngestOptions options_;
  BatchState state_;
  std::vector<RawMessage> messages_;
  ParsedBatch batch_;
};

TEST_F(PlanTest, ALotteryFillsWithDistinctPlayersAndIsDrawnInTheSameBatch) {
  AddStake(301, 101, 201);
  AddStake(302, 101, 201);  // the same player again: an entry, not a player
  AddStake(303, 102, 201);
  AddStake(304, 103, 201);  // the third distinct player fills it
  AddStake(305, 104, 201);  // opens the next one
  auto plan = Plan();
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->lotteries.size(), 2u);
  const PlannedLottery& first = plan->lotteries[0];
  EXPECT_TRUE(first.is_new);
  EXPECT_EQ(first.id, U(900));
  EXPECT_EQ(first.status, d::LotteryStatus::kFinished);
  EXPECT_EQ(first.player_count, 3);
  EXPECT_EQ(first.entry_count, 4);
  ASSERT_TRUE(first.award.has_value());
  EXPECT_EQ(first.seed_key_id, "k1");
  const PlannedLottery& second = plan->lotteries[1];
  EXPECT_EQ(second.status, d::LotteryStatus::kInWaiting);
  EXPECT_EQ(second.entry_count, 1);
  EXPECT_FALSE(second.award.has_value());

  ASSERT_EQ(plan->entries.size(), 5u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(plan->entries[i].lottery_id, U(900));
    EXPECT_EQ(plan->entries[i].entry_no, i + 1);
    EXPECT_EQ(plan->entries[i].status, plan->entries[i].player_id == first.award->winner
                                           ? d::EntryStatus::kWinner
                                           : d::EntryStatus::kFinished);
  }
  EXPECT_EQ(plan->entries[4].status, d::EntryStatus::kInWaiting);
  EXPECT_THAT(Types(*plan), ElementsAre("lotteryCreated " + S(900), "lotteryStarted " + S(900),
                                        "lotteryAwardCreated " + d::FormatUuid(first.award->winner),
                                        "lotteryCreated " + S(901)));
  const BatchResult& r = plan->result;
  EXPECT_EQ(r.consumed, 5u);
  EXPECT_EQ(r.entries, 5u);
  EXPECT_EQ(r.lotteries_opened, 2u);
  EXPECT_EQ(r.lotteries_started, 1u);
  EXPECT_EQ(r.lotteries_finished, 1u);
  EXPECT_EQ(r.awards, 1u);
  EXPECT_EQ(plan->next_offsets.at({"player.v1.staked", 0}), 5);
}

TEST_F(PlanTest, TheAwardIsTheDomainsDrawOverTheEntriesInEntryOrder) {
  AddStake(301, 101, 201, "1");
  AddStake(302, 102, 201, "2");
  AddStake(303, 103, 201, "3");
  auto plan = Plan();
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->outbox.size(), 3u);
  lottery::v1::AwardCreated award;
  ASSERT_TRUE(award.ParseFromString(plan->outbox[2].payload));
  EXPECT_TRUE(d::VerifyAward(award).ok()) << d::VerifyAward(award);
  EXPECT_EQ(award.lottery_id(), S(900));
  EXPECT_EQ(d::ToHex(award.proof().commitment()),
            d::ToHex(std::string(
                reinterpret_cast<const char*>(plan->lotteries[0].commitment.data()), 32)));
  EXPECT_EQ(award.win_sum_minor(), plan->lotteries[0].award->win_sum);
}

TEST_F(PlanTest, AStoredLotteryIsFilledAcrossBatchesAndItsStoredEntriesFollow) {
  Stored(d::LotteryStatus::kInWaiting, 500, 201, {{101, 1000}, {102, 1000}});
  AddStake(301, 101, 201);  // a known player: no fill
  AddStake(302, 103, 201);  // the third: fills the stored lottery
  AddStake(303, 104, 201);  // opens a new one
  auto plan = Plan();
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->lotteries.size(), 2u);
  const PlannedLottery& stored = plan->lotteries[0];  // stored ones are written first
  EXPECT_FALSE(stored.is_new);
  EXPECT_EQ(stored.id, U(500));
  EXPECT_EQ(stored.status, d::LotteryStatus::kFinished);
  EXPECT_TRUE(stored.stored_entries_change);
  EXPECT_EQ(stored.player_count, 3);
  EXPECT_EQ(stored.entry_count, 4);
  EXPECT_EQ(plan->entries[0].entry_no, 3);
  EXPECT_EQ(plan->entries[1].entry_no, 4);
  EXPECT_TRUE(plan->lotteries[1].is_new);
  EXPECT_EQ(plan->entries[2].lottery_id, plan->lotteries[1].id);
  EXPECT_EQ(plan->entries[2].entry_no, 1);
  EXPECT_EQ(plan->result.lotteries_opened, 1u);
}

TEST_F(PlanTest, AnUntouchedStoredLotteryIsNotWritten) {
  Stored(d::LotteryStatus::kInWaiting, 500, 201, {{101, 1000}});
  AddStake(301, 101, 202);
  auto plan = Plan();
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->lotteries.size(), 1u);
  EXPECT_EQ(plan->lotteries[0].game_id, U(202));
}

TEST_F(PlanTest, RepeatsAreCountedOrRejectedAndNeverBecomeEntries) {
  state_.stored[U(301)] = StakeFields{U(101), U(201), 1000};
  AddStake(301, 101, 201);           // stored before, the same stake: a duplicate
  AddStake(302, 102, 201);           // first
  AddStake(302, 102, 201, "10.00");  // the same stake in another spelling: a duplicate
  AddStake(302, 102, 201, "11");     // another stake under the same id: a conflict
  AddStake(301, 109, 201);           // stored under another player: a conflict
  auto plan = Plan();
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->entries.size(), 1u);
  EXPECT_EQ(plan->result.duplicates, 2u);
  EXPECT_EQ(plan->result.conflicting_duplicates, 2u);
  EXPECT_EQ(plan->result.rejected, 2u);
  ASSERT_EQ(plan->rejections.size(), 2u);
  EXPECT_THAT(plan->rejections[0].rejection.reason, HasSubstr("conflicting duplicate"));
  EXPECT_EQ(plan->rejections[0].rejection.event_id, S(302));
  EXPECT_EQ(plan->rejections[0].source->offset, 3);
  EXPECT_EQ(plan->rejections[1].source->offset, 4);
  // Each rejection has its DLQ row, after the lottery's rows.
  EXPECT_THAT(Types(*plan), ElementsAre("lotteryCreated " + S(900), "stakeRejected " + S(302),
                                        "stakeRejected " + S(301)));
}

TEST_F(PlanTest, MalformedAndForeignRecordsAreRejectedOrSkippedAndTheBatchGoesOn) {
  AddRaw("not json");
  AddRaw(R"({"message":{"eventType":"player.registered"}})");
  AddStake(301, 101, 201, "-3");
  AddStake(302, 101, 201);
  auto plan = Plan();
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->result.consumed, 4u);
  EXPECT_EQ(plan->result.rejected, 2u);
  EXPECT_EQ(plan->result.skipped, 1u);
  EXPECT_EQ(plan->result.skipped_by_type.at("player.registered"), 1u);
  EXPECT_EQ(plan->result.entries, 1u);
  ASSERT_EQ(plan->rejections.size(), 2u);
  EXPECT_EQ(plan->rejections[0].raw.length, 8);
  EXPECT_EQ(plan->outbox.back().headers_json.find("\"reason\":\"game.stake: negative\"") !=
                std::string::npos,
            true)
      << plan->outbox.back().headers_json;
  EXPECT_EQ(plan->next_offsets.at({"player.v1.staked", 0}), 4);
}

TEST_F(PlanTest, ALeftoverStartedLotteryIsDrawnWithItsStartedEvent) {
  Stored(d::LotteryStatus::kStarted, 500, 201, {{101, 100}, {102, 200}, {103, 300}});
  auto plan = Plan();  // no stakes at all: DrawLeftoverLotteries' plan
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->lotteries.size(), 1u);
  EXPECT_EQ(plan->lotteries[0].status, d::LotteryStatus::kFinished);
  EXPECT_TRUE(plan->lotteries[0].stored_entries_change);
  ASSERT_TRUE(plan->lotteries[0].award.has_value());
  EXPECT_THAT(Types(*plan), ElementsAre("lotteryStarted " + S(500),
                                        "lotteryAwardCreated " +
                                            d::FormatUuid(plan->lotteries[0].award->winner)));
  EXPECT_EQ(plan->result.lotteries_finished, 1u);
  EXPECT_EQ(plan->result.lotteries_started, 0u);  // it started in an earlier batch
}

TEST_F(PlanTest, ADrawTheDomainRefusesLeavesTheLotteryStartedAndIsReported) {
  // Bad data in a stored lottery (a zero stake): the draw is refused, nothing else stops.
  Stored(d::LotteryStatus::kInWaiting, 500, 201, {{101, 0}, {102, 1000}});
  AddStake(301, 103, 201);
  AddStake(302, 104, 202);
  auto plan = Plan();
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->lotteries.size(), 2u);
  EXPECT_EQ(plan->lotteries[0].status, d::LotteryStatus::kStarted);
  EXPECT_FALSE(plan->lotteries[0].award.has_value());
  EXPECT_TRUE(plan->lotteries[0].stored_entries_change);
  EXPECT_EQ(plan->entries[0].status, d::EntryStatus::kStarted);
  EXPECT_EQ(plan->result.draw_failures, 1u);
  ASSERT_EQ(plan->draw_failures.size(), 1u);
  EXPECT_THAT(plan->draw_failures[0], HasSubstr(S(500)));
  EXPECT_EQ(plan->result.entries, 2u);  // the other game went on
}

TEST_F(PlanTest, GamesArePlannedInLockOrderWithTheirOwnRules) {
  d::GameRule two;
  two.players_needed = 2;
  state_.rules.by_game[U(0x0201)] = two;
  AddStake(301, 101, 0x0202);
  AddStake(302, 101, 0x0201);
  AddStake(303, 102, 0x0201);  // fills game 0x0201's lottery (2 players)
  AddStake(304, 102, 0x0202);
  auto plan = Plan();
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->lotteries.size(), 2u);
  EXPECT_EQ(plan->lotteries[0].game_id, U(0x0201));  // lower lock key first
  EXPECT_EQ(plan->lotteries[0].status, d::LotteryStatus::kFinished);
  EXPECT_EQ(plan->lotteries[0].players_needed, 2);
  EXPECT_EQ(plan->lotteries[1].game_id, U(0x0202));
  EXPECT_EQ(plan->lotteries[1].status, d::LotteryStatus::kInWaiting);
  EXPECT_EQ(plan->lotteries[1].players_needed, 3);
  EXPECT_LT(GameLockKey(U(0x0201)), GameLockKey(U(0x0202)));
}

TEST_F(PlanTest, ANewLotteryWithoutASeedKeyIsRefused) {
  options_.seed_keys = nullptr;
  AddStake(301, 101, 201);
  auto plan = Plan();
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(PlanTest, TheSameInputGivesTheSamePlan) {
  for (int i = 0; i < 7; ++i) AddStake(300 + i, 100 + i % 4, 201 + i % 2);
  auto a = Plan();
  auto b = Plan();
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->outbox.size(), b->outbox.size());
  for (size_t i = 0; i < a->outbox.size(); ++i) {
    EXPECT_EQ(a->outbox[i].id, b->outbox[i].id);
    EXPECT_EQ(a->outbox[i].payload, b->outbox[i].payload);
  }
}

TEST(EntryStatusIn, FollowsTheLotteryAndNamesTheWinner) {
  PlannedLottery l;
  EXPECT_EQ(EntryStatusIn(l, U(1)), d::EntryStatus::kInWaiting);
  l.status = d::LotteryStatus::kStarted;
  EXPECT_EQ(EntryStatusIn(l, U(1)), d::EntryStatus::kStarted);
  l.status = d::LotteryStatus::kFinished;
  l.award = PlannedAward{U(9), U(8), U(1), 5};
  EXPECT_EQ(EntryStatusIn(l, U(1)), d::EntryStatus::kWinner);
  EXPECT_EQ(EntryStatusIn(l, U(2)), d::EntryStatus::kFinished);
}

}  // namespace
}  // namespace lottery::writer
