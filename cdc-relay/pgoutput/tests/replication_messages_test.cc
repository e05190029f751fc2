#include "lottery/cdc/replication_messages.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "test_util.h"

namespace lottery::cdc {
namespace {

using ::lottery::cdc::testing::Wire;
using ::lottery::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ReplicationMessagesTest, DecodesXLogData) {
  std::string msg = Wire().U8('w').U64(0x1000).U64(0x2000).I64(777).Bytes("BEGIN?").str();
  auto decoded = DecodeReplicationMessage(msg);
  ASSERT_OK(decoded);
  const auto& x = std::get<XLogData>(*decoded);
  EXPECT_EQ(x.wal_start, 0x1000u);
  EXPECT_EQ(x.wal_end, 0x2000u);
  EXPECT_EQ(x.send_time, 777);
  EXPECT_EQ(x.data, "BEGIN?");
}

TEST(ReplicationMessagesTest, XLogDataMayCarryNoData) {
  auto decoded = DecodeReplicationMessage(Wire().U8('w').U64(1).U64(2).I64(3).str());
  ASSERT_OK(decoded);
  EXPECT_EQ(std::get<XLogData>(*decoded).data, "");
}

TEST(ReplicationMessagesTest, DecodesKeepalive) {
  for (bool reply : {false, true}) {
    auto decoded = DecodeReplicationMessage(Wire().U8('k').U64(0xABCDEF).I64(-5).U8(reply).str());
    ASSERT_OK(decoded);
    const auto& k = std::get<PrimaryKeepalive>(*decoded);
    EXPECT_EQ(k.wal_end, 0xABCDEFu);
    EXPECT_EQ(k.send_time, -5);
    EXPECT_EQ(k.reply_requested, reply);
  }
}

TEST(ReplicationMessagesTest, RejectsMalformedKeepalive) {
  EXPECT_THAT(DecodeReplicationMessage(Wire().U8('k').U64(1).I64(2).U8(2).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("replyRequested")));
  EXPECT_THAT(DecodeReplicationMessage(Wire().U8('k').U64(1).I64(2).U8(0).U8(0).str()),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("trailing")));
}

TEST(ReplicationMessagesTest, RejectsUnknownTagAndEmpty) {
  EXPECT_THAT(DecodeReplicationMessage(""), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(DecodeReplicationMessage("r"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("unknown tag 0x72")));
}

TEST(ReplicationMessagesTest, EveryTruncatedHeaderFails) {
  std::string xlog = Wire().U8('w').U64(1).U64(2).I64(3).str();
  EXPECT_THAT(DecodeReplicationMessage(""), StatusIs(absl::StatusCode::kDataLoss));
  for (size_t n = 1; n < xlog.size(); ++n) {
    EXPECT_THAT(DecodeReplicationMessage(xlog.substr(0, n)),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("XLogData")))
        << n;
  }
  std::string keepalive = Wire().U8('k').U64(1).I64(2).U8(1).str();
  for (size_t n = 1; n < keepalive.size(); ++n) {
    EXPECT_THAT(DecodeReplicationMessage(keepalive.substr(0, n)),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr("PrimaryKeepalive")))
        << n;
  }
}

TEST(ReplicationMessagesTest, EncodesStandbyStatusUpdate) {
  std::string msg = EncodeStandbyStatusUpdate(0x0102030405060708, 0x10, 0x20, 12345, true);
  EXPECT_EQ(msg, Wire().U8('r').U64(0x0102030405060708).U64(0x10).U64(0x20).I64(12345).U8(1).str());
  EXPECT_EQ(msg.size(), 34u);
  EXPECT_EQ(EncodeStandbyStatusUpdate(1, 2, 3, -1, false).back(), '\0');
}

TEST(ReplicationMessagesTest, PgEpochConversion) {
  // 2000-01-01T00:00:00Z is PostgreSQL's zero.
  EXPECT_EQ(UnixMicrosToPgMicros(int64_t{946684800} * 1000000), 0);
  EXPECT_EQ(ToPgMicros(absl::FromUnixSeconds(946684801)), 1000000);
  EXPECT_EQ(PgMicrosToUnixMicros(0), int64_t{946684800} * 1000000);
  EXPECT_EQ(FromPgMicros(1), absl::FromUnixMicros(int64_t{946684800} * 1000000 + 1));
}

}  // namespace
}  // namespace lottery::cdc
