// The checkpoint record's JSON value, and the slot/checkpoint start decision, without servers.
#include "lottery/cdc/checkpoint.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/cdc/relay.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::cdc {
namespace {

using ::lottery::testing::StatusIs;
using ::testing::HasSubstr;

TEST(CheckpointTest, RoundTrips) {
  Checkpoint c{"slot \"a\"\\b", 0x16B374D848, 848903552058129, "7711989877374907362",
               "lottery",       42,           1795588352082};
  std::string json = EncodeCheckpoint(c);
  EXPECT_THAT(json, HasSubstr("\"lsn\":\"16/B374D848\""));
  auto back = DecodeCheckpoint(json);
  ASSERT_OK(back.status());
  EXPECT_EQ(*back, c);

  c.dead_lettered = 3;
  c.last_dead_letter = "seq 7 id x: too_large: \"big\"";
  back = DecodeCheckpoint(EncodeCheckpoint(c));
  ASSERT_OK(back.status());
  EXPECT_EQ(*back, c);
}

TEST(CheckpointTest, AnythingElseIsDataLoss) {
  for (const char* bad : {"", "not json", "[]", "{}", R"({"lsn":"zz"})", R"({"lsn":5})",
                          R"({"lsn":"0/1","events":-1})"}) {
    EXPECT_THAT(DecodeCheckpoint(bad).status(), StatusIs(absl::StatusCode::kDataLoss)) << bad;
  }
}

TEST(CheckSlotForStartTest, FirstStartCreatesTheSlotButALostSlotNamesTheRecoverCommand) {
  SlotInfo missing;
  EXPECT_OK(CheckSlotForStart("s", missing, std::nullopt, "db"));
  Checkpoint cp;
  cp.lsn = 0x100;
  EXPECT_THAT(CheckSlotForStart("s", missing, cp, "db"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("lottery-cdc-relay recover --slot-lost")));
  SlotInfo lost{.exists = true,
                .plugin = "pgoutput",
                .slot_type = "logical",
                .database = "db",
                .wal_status = "lost"};
  EXPECT_THAT(CheckSlotForStart("s", lost, std::nullopt, "db"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("recover --slot-lost")));
  SlotInfo good = lost;
  good.wal_status = "reserved";
  EXPECT_OK(CheckSlotForStart("s", good, cp, "db"));
  EXPECT_THAT(CheckSlotForStart("s", good, cp, "other"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  SlotInfo wrong_plugin = good;
  wrong_plugin.plugin = "wal2json";
  EXPECT_THAT(CheckSlotForStart("s", wrong_plugin, cp, "db"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

}  // namespace
}  // namespace lottery::cdc
