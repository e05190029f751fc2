#include "lottery/domain/award.h"

#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/hex.h"
#include "test_vectors.h"

namespace lottery::domain {
namespace {

using ::lottery::testing::IsOk;
using ::lottery::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

Uuid U(std::string_view s) { return *ParseUuid(s); }

lottery::v1::AwardCreated AwardOf(const testing::DrawVector& v) {
  std::vector<Entry> entries;
  for (const auto& e : v.entries) entries.push_back(Entry{U(e.player_id), e.stake_minor});
  const DrawMode mode = *ParseDrawMode(v.mode);
  const std::vector<Participant> participants = *ParticipantsFromEntries(mode, entries);
  absl::StatusOr<lottery::v1::AwardCreated> award = DrawAward(
      UuidV5(U(v.lottery_id), "award"), U(v.lottery_id), U("99999999-9999-4999-8999-999999999999"),
      *FromHexArray<32>(v.seed_hex), mode, participants, *ParsePrizePolicy(v.policy), v.bps,
      absl::FromUnixMicros(1700000000123456));
  EXPECT_THAT(award, IsOk());
  return *award;
}

TEST(AwardTest, BuiltAwardCarriesTheVectorValuesAndVerifies) {
  for (const testing::DrawVector& v : testing::DrawVectors()) {
    SCOPED_TRACE(v.name);
    const lottery::v1::AwardCreated award = AwardOf(v);
    EXPECT_EQ(award.lottery_id(), v.lottery_id);
    EXPECT_EQ(award.player_id(), v.winner);
    EXPECT_EQ(award.win_sum_minor(), v.win_sum_minor);
    EXPECT_EQ(award.win_sum(), v.win_sum);
    EXPECT_EQ(award.proof().algorithm(), "lottery-draw/v1");
    EXPECT_EQ(ToHex(award.proof().commitment()), v.commitment_hex);
    EXPECT_EQ(ToHex(award.proof().entries_digest()), v.entries_digest_hex);
    EXPECT_EQ(award.proof().total_weight(), v.total_weight);
    EXPECT_EQ(award.proof().counter(), v.counter);
    EXPECT_EQ(award.proof().ticket(), v.ticket);
    EXPECT_EQ(ToHex(award.proof().draw_hmac()), v.draw_hmac_hex);
    EXPECT_EQ(award.drawn_at().seconds(), 1700000000);
    EXPECT_EQ(award.drawn_at().nanos(), 123456000);
    EXPECT_THAT(VerifyAward(award), IsOk());
  }
}

TEST(AwardTest, JsonRoundTripVerifies) {
  const lottery::v1::AwardCreated award = AwardOf(testing::DrawVectors()[2]);
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(award, &json).ok());
  lottery::v1::AwardCreated back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok());
  EXPECT_THAT(VerifyAward(back), IsOk());
}

struct Tamper {
  std::string name;
  std::function<void(lottery::v1::AwardCreated&)> apply;
  std::string first_field;  // the message must start with this
};

std::string FlipFirstByte(std::string s) {
  s[0] = static_cast<char>(s[0] ^ 0x01);
  return s;
}

TEST(AwardTest, TamperingAnyInputFailsNamingTheFirstBadField) {
  const std::vector<Tamper> tampers = {
      {"algorithm", [](auto& a) { a.mutable_proof()->set_algorithm("lottery-draw/v2"); },
       "proof.algorithm"},
      {"lottery_id not canonical",
       [](auto& a) { a.set_lottery_id("C0FFEE00-0000-4000-8000-000000000002"); }, "lottery_id"},
      {"seed",
       [](auto& a) { a.mutable_proof()->set_server_seed(FlipFirstByte(a.proof().server_seed())); },
       "proof.commitment"},
      {"commitment",
       [](auto& a) { a.mutable_proof()->set_commitment(FlipFirstByte(a.proof().commitment())); },
       "proof.commitment"},
      {"mode", [](auto& a) { a.mutable_proof()->set_mode(lottery::v1::UNIFORM); },
       "proof.participants[0].weight"},
      {"participant id",
       [](auto& a) {
         a.mutable_proof()->mutable_participants(1)->set_player_id(
             "12345678-1234-4234-8234-123456789012");
       },
       "proof.entries_digest"},
      {"participant order",
       [](auto& a) { a.mutable_proof()->mutable_participants()->SwapElements(0, 2); },
       "proof.entries_digest"},
      {"participant removed",
       [](auto& a) { a.mutable_proof()->mutable_participants()->RemoveLast(); },
       "proof.entries_digest"},
      {"stake and weight",
       [](auto& a) {
         auto* p = a.mutable_proof()->mutable_participants(0);
         p->set_total_stake_minor(p->total_stake_minor() + 1);
         p->set_weight(p->weight() + 1);
       },
       "proof.entries_digest"},
      {"stake only",
       [](auto& a) {
         auto* p = a.mutable_proof()->mutable_participants(0);
         p->set_total_stake_minor(p->total_stake_minor() + 1);
       },
       "proof.participants[0].weight"},
      {"entries digest",
       [](auto& a) {
         a.mutable_proof()->set_entries_digest(FlipFirstByte(a.proof().entries_digest()));
       },
       "proof.entries_digest"},
      {"total weight", [](auto& a) { a.mutable_proof()->set_total_weight(1); },
       "proof.total_weight"},
      {"counter", [](auto& a) { a.mutable_proof()->set_counter(1); }, "proof.counter"},
      {"draw hmac",
       [](auto& a) { a.mutable_proof()->set_draw_hmac(FlipFirstByte(a.proof().draw_hmac())); },
       "proof.draw_hmac"},
      {"ticket", [](auto& a) { a.mutable_proof()->set_ticket(a.proof().ticket() + 1); },
       "proof.ticket"},
      {"winner", [](auto& a) { a.set_player_id("11111111-1111-4111-8111-111111111111"); },
       "player_id"},
      {"win sum minor", [](auto& a) { a.set_win_sum_minor(a.win_sum_minor() + 1); },
       "win_sum_minor"},
      {"win sum string", [](auto& a) { a.set_win_sum("1346.350"); }, "win_sum "},
      {"policy", [](auto& a) { a.set_prize_policy(lottery::v1::WINNER_STAKE); }, "win_sum_minor"},
      {"bps", [](auto& a) { a.set_prize_bps(3301); }, "win_sum_minor"},
      {"bps above 10000", [](auto& a) { a.set_prize_bps(10001); }, "prize_bps"},
  };
  // V2: stake-weighted with four participants, so every tamper above applies.
  const lottery::v1::AwardCreated good = AwardOf(testing::DrawVectors()[1]);
  ASSERT_THAT(VerifyAward(good), IsOk());
  for (const Tamper& t : tampers) {
    lottery::v1::AwardCreated bad = good;
    t.apply(bad);
    EXPECT_THAT(VerifyAward(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(t.first_field)))
        << t.name;
  }
}

TEST(AwardTest, ChangedLotteryIdOrConsistentlyChangedSeedIsCaughtByTheDraw) {
  for (const testing::DrawVector& v : testing::DrawVectors()) {
    SCOPED_TRACE(v.name);
    const lottery::v1::AwardCreated good = AwardOf(v);
    lottery::v1::AwardCreated other_lottery = good;
    other_lottery.set_lottery_id("c0ffee00-0000-4000-8000-0000000000ff");
    EXPECT_THAT(VerifyAward(other_lottery),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AnyOf(StartsWith("proof.counter"), StartsWith("proof.draw_hmac"))));

    // A forger who swaps the seed and recomputes the commitment still fails the draw checks.
    Seed other_seed{};
    other_seed[31] = 7;
    lottery::v1::AwardCreated other_seed_award = good;
    other_seed_award.mutable_proof()->set_server_seed(
        std::string(reinterpret_cast<const char*>(other_seed.data()), 32));
    const Digest c = Commitment(other_seed);
    other_seed_award.mutable_proof()->set_commitment(
        std::string(reinterpret_cast<const char*>(c.data()), 32));
    EXPECT_THAT(VerifyAward(other_seed_award),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AnyOf(StartsWith("proof.counter"), StartsWith("proof.draw_hmac"))));
  }
}

TEST(AwardTest, PolicyOverrides) {
  const lottery::v1::AwardCreated good = AwardOf(testing::DrawVectors()[1]);  // pot, 3300
  EXPECT_THAT(VerifyAward(good, PrizePolicy::kPot, 3300), IsOk());
  EXPECT_THAT(VerifyAward(good, PrizePolicy::kWinnerStake),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("prize_policy")));
  EXPECT_THAT(VerifyAward(good, std::nullopt, 3000),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("prize_bps")));

  lottery::v1::AwardCreated no_policy = good;
  no_policy.clear_prize_policy();
  no_policy.clear_prize_bps();
  EXPECT_THAT(VerifyAward(no_policy),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("prize_policy")));
  EXPECT_THAT(VerifyAward(no_policy, PrizePolicy::kPot),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("prize_bps")));
  EXPECT_THAT(VerifyAward(no_policy, PrizePolicy::kPot, 3300), IsOk());
  EXPECT_THAT(VerifyAward(no_policy, PrizePolicy::kWinnerStake, 3300),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("win_sum_minor")));
}

TEST(LifecycleEventsTest, CreatedAndStartedCarryTheCommitmentAndDigest) {
  const testing::DrawVector& v = testing::DrawVectors()[0];
  const Seed seed = *FromHexArray<32>(v.seed_hex);
  GameRule rule;
  rule.players_needed = 3;
  const lottery::v1::LotteryCreated created =
      BuildLotteryCreated(U(v.lottery_id), U("99999999-9999-4999-8999-999999999999"),
                          Commitment(seed), rule, absl::FromUnixSeconds(1700000000));
  EXPECT_EQ(ToHex(created.commitment()), v.commitment_hex);
  EXPECT_EQ(created.players_needed(), 3u);
  EXPECT_EQ(created.mode(), lottery::v1::UNIFORM);
  EXPECT_EQ(created.prize_policy(), lottery::v1::WINNER_STAKE);
  EXPECT_EQ(created.prize_bps(), 3300u);
  EXPECT_EQ(created.created_at().seconds(), 1700000000);

  std::vector<Entry> entries;
  for (const auto& e : v.entries) entries.push_back(Entry{U(e.player_id), e.stake_minor});
  const auto participants = *ParticipantsFromEntries(DrawMode::kUniform, entries);
  const lottery::v1::LotteryStarted started =
      BuildLotteryStarted(U(v.lottery_id), U("99999999-9999-4999-8999-999999999999"), participants,
                          EntriesDigest(participants), absl::FromUnixSeconds(1700000001));
  EXPECT_EQ(ToHex(started.entries_digest()), v.entries_digest_hex);
  ASSERT_EQ(started.participants_size(), 3);
  EXPECT_EQ(started.participants(0).player_id(), v.winner);
  EXPECT_EQ(started.participants(0).total_stake_minor(), 1234550);
}

TEST(ProtoEnumTest, RoundTripAndUnspecifiedRejected) {
  for (DrawMode m : {DrawMode::kUniform, DrawMode::kStakeWeighted}) {
    EXPECT_EQ(*FromProto(ToProto(m)), m);
  }
  for (PrizePolicy p : {PrizePolicy::kWinnerStake, PrizePolicy::kPot}) {
    EXPECT_EQ(*FromProto(ToProto(p)), p);
  }
  EXPECT_THAT(FromProto(lottery::v1::DRAW_MODE_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(FromProto(lottery::v1::PRIZE_POLICY_UNSPECIFIED),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace lottery::domain
