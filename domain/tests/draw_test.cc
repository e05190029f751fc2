#include "lottery/domain/draw.h"

#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/hex.h"
#include "test_vectors.h"

namespace lottery::domain {
namespace {

using ::lottery::testing::IsOk;
using ::lottery::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Uuid U(std::string_view s) { return *ParseUuid(s); }

// Builds the participant set of a vector through the same path the writer uses.
std::vector<Participant> ParticipantsOf(const testing::DrawVector& v) {
  std::vector<Entry> entries;
  for (const auto& e : v.entries) entries.push_back(Entry{U(e.player_id), e.stake_minor});
  return *ParticipantsFromEntries(*ParseDrawMode(v.mode), entries);
}

TEST(DrawVectorTest, EveryIntermediateValueMatchesTheReferenceImplementation) {
  for (const testing::DrawVector& v : testing::DrawVectors()) {
    SCOPED_TRACE(v.name);
    const Seed seed = *FromHexArray<32>(v.seed_hex);
    const Uuid lottery_id = U(v.lottery_id);
    EXPECT_EQ(ToHex(Commitment(seed)), v.commitment_hex);

    const std::vector<Participant> participants = ParticipantsOf(v);
    const Digest digest = EntriesDigest(participants);
    EXPECT_EQ(ToHex(digest), v.entries_digest_hex);
    for (uint32_t i = 0; i < v.x_by_counter.size(); ++i) {
      EXPECT_EQ(DrawX(seed, lottery_id, digest, i), v.x_by_counter[i]) << "i=" << i;
    }

    absl::StatusOr<DrawResult> r = Draw(lottery_id, seed, participants);
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(ToHex(r->entries_digest), v.entries_digest_hex);
    EXPECT_EQ(r->total_weight, v.total_weight);
    EXPECT_EQ(r->counter, v.counter);
    EXPECT_EQ(r->x, v.x_by_counter.back());
    EXPECT_EQ(ToHex(r->draw_hmac), v.draw_hmac_hex);
    EXPECT_EQ(r->ticket, v.ticket);
    EXPECT_EQ(r->winner_index, v.winner_index);
    EXPECT_EQ(FormatUuid(participants[r->winner_index].player_id), v.winner);
  }
}

TEST(DrawVectorTest, DigestInputLayoutOfV1) {
  // The exact bytes hashed into entries_digest for V1 (from the reference implementation).
  const std::string expected_input = *FromHex(
      "6f1c2b9e0d4a4e8b9a510c3f2e7d1a01000000000012d6760000000000000001"
      "b3e0f6d27c194a658f2e5d4c3b2a190200000000000000320000000000000001"
      "0a9b8c7d6e5f4a3b9c2d1e0f2a3b4c0300000000000186a00000000000000001");
  const auto& v = testing::DrawVectors()[0];
  const std::vector<Participant> participants = ParticipantsOf(v);
  ASSERT_EQ(participants.size(), 3u);
  std::string built;
  for (const Participant& p : participants) {
    built.append(reinterpret_cast<const char*>(p.player_id.data()), 16);
    for (int s = 56; s >= 0; s -= 8) built.push_back(static_cast<char>(p.total_stake_minor >> s));
    for (int s = 56; s >= 0; s -= 8) built.push_back(static_cast<char>(p.weight >> s));
  }
  EXPECT_EQ(ToHex(built), ToHex(expected_input));
}

TEST(ParticipantsFromEntriesTest, MergesStakesKeepsFirstEntryOrder) {
  const Uuid a = U("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa");
  const Uuid b = U("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb");
  const Uuid c = U("cccccccc-cccc-4ccc-8ccc-cccccccccccc");
  const std::vector<Entry> entries = {{b, 10}, {a, 5}, {b, 7}, {c, 1}, {a, 1}};
  absl::StatusOr<std::vector<Participant>> uniform =
      ParticipantsFromEntries(DrawMode::kUniform, entries);
  ASSERT_THAT(uniform, IsOk());
  EXPECT_THAT(*uniform,
              ElementsAre(Participant{b, 17, 1}, Participant{a, 6, 1}, Participant{c, 1, 1}));
  absl::StatusOr<std::vector<Participant>> weighted =
      ParticipantsFromEntries(DrawMode::kStakeWeighted, entries);
  ASSERT_THAT(weighted, IsOk());
  EXPECT_THAT(*weighted,
              ElementsAre(Participant{b, 17, 17}, Participant{a, 6, 6}, Participant{c, 1, 1}));
}

TEST(ParticipantsFromEntriesTest, RejectsNonPositiveStakeAndOverflow) {
  const Uuid a = U("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa");
  EXPECT_THAT(ParticipantsFromEntries(DrawMode::kUniform, std::vector<Entry>{{a, 0}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParticipantsFromEntries(DrawMode::kUniform, std::vector<Entry>{{a, -1}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  const std::vector<Entry> overflow = {{a, INT64_MAX}, {a, 1}};
  EXPECT_THAT(ParticipantsFromEntries(DrawMode::kUniform, overflow),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("overflows")));
}

TEST(DrawTest, RejectsBadParticipantSets) {
  const Seed seed{};
  const Uuid lottery = U("00000000-0000-4000-8000-000000000000");
  const Uuid a = U("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa");
  const Uuid b = U("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb");
  EXPECT_THAT(Draw(lottery, seed, {}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Draw(lottery, seed, std::vector<Participant>{{a, 1, 1}, {b, 1, 0}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("weight 0")));
  EXPECT_THAT(Draw(lottery, seed, std::vector<Participant>{{a, 1, 1}, {a, 1, 1}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("repeats")));
  EXPECT_THAT(Draw(lottery, seed, std::vector<Participant>{{a, -1, 1}}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(DrawTest, TotalWeightMustStayBelowTwoToThe63) {
  const Seed seed{};
  const Uuid lottery = U("00000000-0000-4000-8000-000000000000");
  const Uuid a = U("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa");
  const Uuid b = U("bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb");
  const uint64_t half = uint64_t{1} << 62;
  // T = 2^63 - 1 is the largest accepted total.
  EXPECT_THAT(Draw(lottery, seed, std::vector<Participant>{{a, 1, half}, {b, 1, half - 1}}),
              IsOk());
  EXPECT_THAT(Draw(lottery, seed, std::vector<Participant>{{a, 1, half}, {b, 1, half}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2^63")));
  // A sum that would wrap around 2^64 is caught, not clamped or wrapped.
  EXPECT_THAT(Draw(lottery, seed, std::vector<Participant>{{a, 1, UINT64_MAX}, {b, 1, 2}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2^63")));
}

TEST(DrawTest, SingleParticipantAlwaysWins) {
  const Uuid a = U("aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa");
  absl::StatusOr<DrawResult> r =
      Draw(U("00000000-0000-4000-8000-000000000009"), Seed{}, std::vector<Participant>{{a, 5, 5}});
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->winner_index, 0u);
  EXPECT_EQ(r->ticket, r->x % 5);
}

TEST(AcceptTest, PowerOfTwoTotalAcceptsEverything) {
  EXPECT_TRUE(draw_internal::Accept(UINT64_MAX, 1).accepted);
  EXPECT_TRUE(draw_internal::Accept(UINT64_MAX, uint64_t{1} << 62).accepted);
  EXPECT_EQ(draw_internal::Accept(UINT64_MAX, uint64_t{1} << 62).ticket, (uint64_t{1} << 62) - 1);
}

TEST(AcceptTest, BoundaryOfTheAcceptanceRegion) {
  // T = 3: 2^64 mod 3 = 1, so the limit is 2^64 - 1 and only x = 2^64 - 1 is rejected.
  EXPECT_FALSE(draw_internal::Accept(UINT64_MAX, 3).accepted);
  EXPECT_TRUE(draw_internal::Accept(UINT64_MAX - 1, 3).accepted);
  // V3's T: limit = 12297829382473034412.
  const uint64_t t = 6148914691236517206u;
  EXPECT_TRUE(draw_internal::Accept(12297829382473034411u, t).accepted);
  EXPECT_FALSE(draw_internal::Accept(12297829382473034412u, t).accepted);
}

TEST(WinnerIndexTest, FirstRunningSumAboveTicket) {
  const Uuid a{}, b{}, c{};
  const std::vector<Participant> ps = {{a, 1, 1}, {b, 2, 2}, {c, 3, 3}};
  const std::vector<size_t> want = {0, 1, 1, 2, 2, 2};
  for (uint64_t t = 0; t < 6; ++t) EXPECT_EQ(draw_internal::WinnerIndex(ps, t), want[t]) << t;
}

TEST(CommitmentTest, SeedIsFreshAndCommitmentBindsIt) {
  absl::StatusOr<Seed> s1 = GenerateSeed();
  absl::StatusOr<Seed> s2 = GenerateSeed();
  ASSERT_THAT(s1, IsOk());
  ASSERT_THAT(s2, IsOk());
  EXPECT_NE(*s1, *s2);
  EXPECT_NE(Commitment(*s1), Commitment(*s2));
}

TEST(DrawModeTest, ParseAndToStringRoundTrip) {
  for (DrawMode m : {DrawMode::kUniform, DrawMode::kStakeWeighted}) {
    EXPECT_EQ(*ParseDrawMode(ToString(m)), m);
  }
  EXPECT_THAT(ParseDrawMode("Uniform"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseDrawMode(""), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace lottery::domain
