// ClassifyRepeats: which stake of a batch becomes an entry, which is a harmless re-delivery and
// which a conflicting duplicate, against stored entries and earlier stakes of the batch.
#include "lottery/writer/repeats.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lottery::writer {
namespace {

namespace d = lottery::domain;
using ::testing::HasSubstr;
using ::testing::StartsWith;

d::Uuid Id(uint8_t n) {
  d::Uuid u{};
  u[0] = n;
  u[15] = 1;
  return u;
}

Stake S(uint8_t event, uint8_t player, uint8_t game, int64_t minor) {
  return Stake{Id(event), Id(player), Id(game), minor};
}

std::vector<Occurrence> Kinds(const std::vector<RepeatVerdict>& v) {
  std::vector<Occurrence> out;
  for (const RepeatVerdict& r : v) out.push_back(r.occurrence);
  return out;
}

TEST(ClassifyRepeats, FirstOccurrenceWinsIdenticalRepeatsAreDuplicates) {
  auto v = ClassifyRepeats({S(1, 10, 20, 500), S(2, 10, 20, 500), S(1, 10, 20, 500)}, {});
  EXPECT_THAT(Kinds(v), ::testing::ElementsAre(Occurrence::kFirst, Occurrence::kFirst,
                                               Occurrence::kDuplicate));
}

TEST(ClassifyRepeats, AnotherBodyWithinTheBatchIsAConflictNamingTheDifference) {
  auto v = ClassifyRepeats(
      {S(1, 10, 20, 1000), S(1, 10, 21, 1000), S(1, 10, 20, 50000), S(1, 10, 20, 1000)}, {});
  ASSERT_THAT(Kinds(v), ::testing::ElementsAre(Occurrence::kFirst, Occurrence::kConflict,
                                               Occurrence::kConflict, Occurrence::kDuplicate));
  EXPECT_THAT(v[1].reason, StartsWith("conflicting duplicate"));
  EXPECT_THAT(v[1].reason, HasSubstr("gameId"));
  EXPECT_THAT(v[2].reason, HasSubstr("1000 -> 50000"));
}

// A stored entry (an earlier batch, an earlier run of the writer) is what the id stands for: the
// batch's first occurrence of it is a repeat too, compared with the stored stake.
TEST(ClassifyRepeats, StoredEntriesComeFirst) {
  StoredStakes stored;
  stored[Id(1)] = StakeFields{Id(10), Id(20), 1000};
  auto v = ClassifyRepeats({S(1, 11, 20, 1000), S(1, 10, 20, 1000), S(2, 10, 20, 1000)}, stored);
  ASSERT_THAT(Kinds(v), ::testing::ElementsAre(Occurrence::kConflict, Occurrence::kDuplicate,
                                               Occurrence::kFirst));
  EXPECT_THAT(v[0].reason, HasSubstr("playerId"));
}

TEST(ClassifyRepeats, AConflictDoesNotBecomeTheReference) {
  // 1 stored as (10, 20, 1000); a conflicting (10, 21, 1000) twice: both are conflicts, neither
  // is a "duplicate" of the other.
  StoredStakes stored;
  stored[Id(1)] = StakeFields{Id(10), Id(20), 1000};
  auto v = ClassifyRepeats({S(1, 10, 21, 1000), S(1, 10, 21, 1000)}, stored);
  EXPECT_THAT(Kinds(v), ::testing::ElementsAre(Occurrence::kConflict, Occurrence::kConflict));
}

}  // namespace
}  // namespace lottery::writer
