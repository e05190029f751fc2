#include "lottery/writer/start_offset.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lottery::writer {
namespace {

using ::testing::HasSubstr;

TEST(StartOffset, PostgreSQLsOffsetWinsWhileTheBrokerHasIt) {
  for (int64_t stored : {100, 150, 200}) {
    StartOffset s = DecideStartOffset(stored, 100, 200);
    EXPECT_EQ(s.offset, stored);
    EXPECT_FALSE(s.reset);
  }
}

TEST(StartOffset, PastTheEndRestartsAtTheStartInsteadOfSkippingSilently) {
  // A recreated topic: PostgreSQL holds 1714, the new partition has 0..1332.
  StartOffset s = DecideStartOffset(1714, 0, 1333);
  EXPECT_EQ(s.offset, 0);
  EXPECT_TRUE(s.reset);
  EXPECT_THAT(s.why, HasSubstr("past the partition's end 1333"));
}

TEST(StartOffset, BeforeTheStartSaysHowManyRecordsRetentionTook) {
  StartOffset s = DecideStartOffset(40, 100, 200);
  EXPECT_EQ(s.offset, 100);
  EXPECT_TRUE(s.reset);
  EXPECT_THAT(s.why, HasSubstr("retention deleted 60 record(s)"));
}

TEST(StartOffset, UnknownWatermarksTrustPostgreSQL) {
  EXPECT_EQ(DecideStartOffset(1714, -1, -1).offset, 1714);
  EXPECT_FALSE(DecideStartOffset(1714, -1, -1).reset);
}

}  // namespace
}  // namespace lottery::writer
