// The first-start decision and the snapshot progress record, without servers.
#include "lottery/cdc/initial_snapshot.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::cdc {
namespace {

using ::lottery::testing::StatusIs;
using ::testing::HasSubstr;

SlotInfo Slot(Lsn confirmed, bool active = false) {
  SlotInfo s;
  s.exists = true;
  s.plugin = "pgoutput";
  s.slot_type = "logical";
  s.database = "lottery";
  s.confirmed_flush_lsn = confirmed;
  s.wal_status = "reserved";
  s.active = active;
  s.active_pid = active ? 4242 : 0;
  return s;
}

StartAction Decide(const SlotInfo& slot, const std::optional<Checkpoint>& cp,
                   const std::optional<SnapshotProgress>& progress,
                   InitialSnapshot mode = InitialSnapshot::kAll) {
  auto d = DecideStart("s", slot, cp, progress, mode, "lottery");
  EXPECT_OK(d.status());
  return d.ok() ? d->action : StartAction::kStream;
}

TEST(DecideStartTest, FirstStartPublishesWhatIsAlreadyThereByDefault) {
  EXPECT_EQ(Decide(SlotInfo{}, std::nullopt, std::nullopt), StartAction::kSnapshot);
  EXPECT_EQ(Decide(SlotInfo{}, std::nullopt, std::nullopt, InitialSnapshot::kNone),
            StartAction::kCreateSlot);
}

TEST(DecideStartTest, ACheckpointMeansStream) {
  Checkpoint cp{.slot = "s", .lsn = 100};
  EXPECT_EQ(Decide(Slot(100), cp, std::nullopt), StartAction::kStream);
  // A checkpoint without its slot is still the slot-lost refusal, snapshot or not.
  EXPECT_THAT(DecideStart("s", SlotInfo{}, cp, std::nullopt, InitialSnapshot::kAll, "lottery"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("recover --slot-lost")));
}

TEST(DecideStartTest, AnInterruptedSnapshotIsFinished) {
  SnapshotProgress p{.consistent_point = 100, .snapshot = "5:9:7", .last_seq = 12};
  EXPECT_EQ(Decide(Slot(100), std::nullopt, p), StartAction::kResumeSnapshot);
  // The slot moved (streamed by someone) or is not the one of the progress record: redo.
  EXPECT_EQ(Decide(Slot(200), std::nullopt, p), StartAction::kRedoSnapshot);
  // A slot with no record at all (killed before the first commit, or an older relay): redo.
  EXPECT_EQ(Decide(Slot(100), std::nullopt, std::nullopt), StartAction::kRedoSnapshot);
  // The slot went away mid-snapshot: a fresh one (ids already in Kafka are skipped).
  EXPECT_EQ(Decide(SlotInfo{}, std::nullopt, p), StartAction::kSnapshot);
  // --initial-snapshot none keeps streaming a slot that exists.
  EXPECT_EQ(Decide(Slot(100), std::nullopt, std::nullopt, InitialSnapshot::kNone),
            StartAction::kStream);
}

TEST(DecideStartTest, ASlotHeldByAnotherProcessIsWaitedFor) {
  EXPECT_THAT(DecideStart("s", Slot(100, true), std::nullopt, std::nullopt, InitialSnapshot::kAll,
                          "lottery"),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("4242")));
}

TEST(SnapshotProgressTest, RoundTripsAndRejectsAnythingElse) {
  SnapshotProgress p{.consistent_point = 0x16B3748,
                     .snapshot = "748:752:749,750",
                     .last_seq = 9001,
                     .published = 8000,
                     .done = true};
  auto back = DecodeSnapshotProgress(EncodeSnapshotProgress(p));
  ASSERT_OK(back.status());
  EXPECT_EQ(*back, p);
  for (const char* bad : {"", "[]", "{}", R"({"consistent_point":"0/1"})",
                          R"({"consistent_point":"x","snapshot":"1:2:"})"}) {
    EXPECT_THAT(DecodeSnapshotProgress(bad).status(), StatusIs(absl::StatusCode::kDataLoss)) << bad;
  }
}

}  // namespace
}  // namespace lottery::cdc
