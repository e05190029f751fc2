// Which outbox rows a recovery run considers (SelectCandidates): pure, no server.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/cdc/recovery/recover.h"

namespace lottery::cdc::recovery {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

RecoverOptions SlotLost() {
  RecoverOptions o;
  o.mode = RecoverOptions::Mode::kSlotLost;
  return o;
}

TEST(SelectCandidates, SlotLostTakesTheWindowBeforeTheCheckpointsCommit) {
  RecoverOptions o = SlotLost();
  o.window = absl::Hours(1);
  Checkpoint cp{.slot = "s", .lsn = 100};
  cp.commit_time = 3'600'000'000;  // PostgreSQL epoch + 1 h: 2000-01-01T01:00:00Z
  auto f = SelectCandidates(o, cp);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->where, "created_at >= to_timestamp($1::bigint / 1000000.0)");
  // 2000-01-01T00:00:00Z in Unix microseconds.
  EXPECT_THAT(f->params, ElementsAre("946684800000000"));
}

TEST(SelectCandidates, SlotLostWithoutAWindowOrACommitTimeTakesTheWholeTable) {
  RecoverOptions all = SlotLost();
  all.window = std::nullopt;  // --window all
  Checkpoint cp{.slot = "s", .lsn = 100};
  cp.commit_time = 3'600'000'000;
  for (const auto& [options, checkpoint] :
       std::vector<std::pair<RecoverOptions, std::optional<Checkpoint>>>{
           {all, cp},
           {SlotLost(), std::nullopt},                            // no checkpoint
           {SlotLost(), Checkpoint{.slot = "s", .lsn = 100}}}) {  // no commit time
    auto f = SelectCandidates(options, checkpoint);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ(f->where, "true");
    EXPECT_THAT(f->params, IsEmpty());
  }
}

TEST(SelectCandidates, FromTableBySeqSinceOrBoth) {
  RecoverOptions o;
  o.from_seq = 42;
  auto seq = SelectCandidates(o, std::nullopt);
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(seq->where, "seq >= $1::bigint");
  EXPECT_THAT(seq->params, ElementsAre("42"));

  o.since = "2026-12-01 10:00:00+00";
  auto both = SelectCandidates(o, std::nullopt);
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->where, "seq >= $1::bigint AND created_at >= $2::timestamptz");
  EXPECT_THAT(both->params, ElementsAre("42", "2026-12-01 10:00:00+00"));

  o.from_seq.reset();
  auto since = SelectCandidates(o, std::nullopt);
  ASSERT_TRUE(since.ok());
  EXPECT_EQ(since->where, "created_at >= $1::timestamptz");
  EXPECT_THAT(since->params, ElementsAre("2026-12-01 10:00:00+00"));
}

TEST(SelectCandidates, FromTableNeedsABound) {
  // Republishing the whole table into a topic the relay keeps writing is never what was meant.
  auto f = SelectCandidates(RecoverOptions{}, std::nullopt);
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lottery::cdc::recovery
