#include "lottery/cdc/byte_cursor.h"

#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/cdc/lsn.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::cdc {
namespace {

using ::lottery::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ByteCursorTest, ReadsNetworkByteOrder) {
  std::string bytes(
      "\x01\xff\xfe\x80\x00\x00\x01\xff\xff\xff\xfe"
      "\x00\x00\x00\x00\x00\x00\x01\x00"
      "\xff\xff\xff\xff\xff\xff\xff\xff",
      27);
  ByteCursor c(bytes);
  EXPECT_EQ(*c.ReadU8("a"), 0x01);
  EXPECT_EQ(*c.ReadI16("b"), -2);                                       // ff fe
  EXPECT_EQ(*c.ReadI32("c"), std::numeric_limits<int32_t>::min() + 1);  // 80 00 00 01
  EXPECT_EQ(*c.ReadU32("d"), 0xfffffffeu);
  EXPECT_EQ(*c.ReadI64("e"), 256);
  EXPECT_EQ(c.remaining(), 8u);
  EXPECT_EQ(*c.ReadU64("f"), std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(c.empty());
}

TEST(ByteCursorTest, SignedReadsAreTwosComplement) {
  std::string bytes(8, '\xff');
  ByteCursor c(bytes);
  EXPECT_EQ(*c.ReadI64("x"), -1);
}

TEST(ByteCursorTest, TruncatedReadIsDataLossAndDoesNotAdvance) {
  std::string bytes("\x01\x02\x03", 3);
  ByteCursor c(bytes);
  EXPECT_THAT(c.ReadI32("Begin.xid"), StatusIs(absl::StatusCode::kDataLoss,
                                               HasSubstr("Begin.xid: need 4 bytes, 3 remain")));
  EXPECT_EQ(c.position(), 0u);
  EXPECT_THAT(c.ReadU64("x"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(c.ReadI16("x"), ::lottery::testing::IsOk());
  EXPECT_THAT(c.ReadI16("x"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(*c.ReadU8("x"), 3);
  EXPECT_THAT(c.ReadU8("x"), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ByteCursorTest, HugeLengthsCannotOverflow) {
  std::string bytes("abc");
  ByteCursor c(bytes);
  ASSERT_OK(c.ReadU8("skip"));
  for (size_t n : {size_t{3}, std::numeric_limits<size_t>::max(),
                   std::numeric_limits<size_t>::max() - 1, size_t{1} << 63}) {
    EXPECT_THAT(c.ReadBytes(n, "data"), StatusIs(absl::StatusCode::kDataLoss)) << n;
  }
  EXPECT_EQ(*c.ReadBytes(2, "data"), "bc");
  EXPECT_EQ(*c.ReadBytes(0, "data"), "");
}

TEST(ByteCursorTest, CStringNeedsTerminator) {
  std::string bytes("ab\0\0cd", 6);
  ByteCursor c(bytes);
  EXPECT_EQ(*c.ReadCString("s"), "ab");
  EXPECT_EQ(*c.ReadCString("s"), "");
  EXPECT_THAT(c.ReadCString("name"),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("name: string not NUL-terminated")));
  EXPECT_EQ(c.remaining(), 2u);
}

TEST(ByteCursorTest, EmptyInput) {
  ByteCursor c("");
  EXPECT_THAT(c.ReadU8("tag"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(c.ReadCString("s"), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(*c.ReadBytes(0, "nothing"), "");
}

TEST(LsnTest, ParsesPostgresText) {
  EXPECT_EQ(*ParseLsn("16/B374D848"), (uint64_t{0x16} << 32) | 0xB374D848);
  EXPECT_EQ(*ParseLsn("0/0"), 0u);
  EXPECT_EQ(*ParseLsn("ffffffff/ffffffff"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*ParseLsn("0/1a"), 0x1au);
}

TEST(LsnTest, RejectsMalformedText) {
  for (const char* bad : {"", "/", "0/", "/0", "16B374D848", "1/2/3", "g/0", "0/-1", "+1/0", " 0/0",
                          "0/0 ", "123456789/0", "0/123456789"}) {
    EXPECT_THAT(ParseLsn(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(LsnTest, FormatsLikePostgres) {
  EXPECT_EQ(FormatLsn(0), "0/0");
  EXPECT_EQ(FormatLsn((uint64_t{0x16} << 32) | 0xB374D848), "16/B374D848");
  EXPECT_EQ(FormatLsn(0x1ABCDEF0), "0/1ABCDEF0");
  for (uint64_t v : {uint64_t{0}, uint64_t{1}, uint64_t{0xdeadbeefcafe}, ~uint64_t{0}}) {
    EXPECT_EQ(*ParseLsn(FormatLsn(v)), v);
  }
}

}  // namespace
}  // namespace lottery::cdc
