#include "lottery/domain/uuid.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::domain {
namespace {

using ::lottery::testing::IsOk;
using ::lottery::testing::StatusIs;

TEST(UuidTest, ParsesEitherCaseAndFormatsLowercase) {
  absl::StatusOr<Uuid> u = ParseUuid("6F1C2B9E-0d4a-4E8B-9a51-0C3F2E7D1A01");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ((*u)[0], 0x6f);
  EXPECT_EQ((*u)[15], 0x01);
  EXPECT_EQ(FormatUuid(*u), "6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01");
  EXPECT_FALSE(IsCanonicalUuid("6F1C2B9E-0d4a-4E8B-9a51-0C3F2E7D1A01"));
  EXPECT_TRUE(IsCanonicalUuid("6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01"));
}

TEST(UuidTest, RejectsNonCanonicalForms) {
  for (std::string_view bad : {
           "",
           "6f1c2b9e0d4a4e8b9a510c3f2e7d1a01",        // no hyphens
           "{6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01}",  // braces
           "urn:uuid:6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01", " 6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01",
           "6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a0g",   // non-hex
           "6f1c2b9e-0d4a4-e8b-9a51-0c3f2e7d1a01",   // hyphen misplaced
           "6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a011",  // too long
       }) {
    EXPECT_THAT(ParseUuid(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

TEST(UuidTest, RandomIsVersion4AndDistinct) {
  const Uuid a = NewRandomUuid();
  const Uuid b = NewRandomUuid();
  EXPECT_NE(a, b);
  EXPECT_EQ(a[6] >> 4, 4);
  EXPECT_EQ(a[8] & 0xc0, 0x80);
}

TEST(UuidTest, TimeOrderedIsVersion7WithTheMillisecondsFirst) {
  // 2026-12-06T00:00:00.123Z = 1796515200123 ms = 0x01a2_48a6_7c7b.
  const absl::Time t = absl::FromUnixMillis(1796515200123);
  const Uuid a = NewTimeOrderedUuid(t);
  EXPECT_EQ(FormatUuid(a).substr(0, 13), "01a248a6-7c7b");
  EXPECT_EQ(a[6] >> 4, 7);
  EXPECT_EQ(a[8] & 0xc0, 0x80);
  EXPECT_NE(a, NewTimeOrderedUuid(t));  // the same millisecond still gives distinct ids
  EXPECT_EQ(FormatUuid(NewTimeOrderedUuid(absl::FromUnixMillis(-5))).substr(0, 13),
            "00000000-0000");
}

TEST(UuidTest, TimeOrderedSortsByTimeAcrossMilliseconds) {
  const absl::Time t0 = absl::FromUnixMillis(1796515200123);
  Uuid previous = NewTimeOrderedUuid(t0);
  for (int i = 1; i < 1000; ++i) {
    const Uuid next = NewTimeOrderedUuid(t0 + absl::Milliseconds(i));
    // Byte order, which is also PostgreSQL's uuid order and the lowercase text order.
    EXPECT_LT(previous, next) << i;
    EXPECT_LT(FormatUuid(previous), FormatUuid(next)) << i;
    previous = next;
  }
}

TEST(UuidTest, V5MatchesRfc4122) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
  const Uuid dns = *ParseUuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  EXPECT_EQ(FormatUuid(UuidV5(dns, "python.org")), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  const Uuid ns = *ParseUuid("6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01");
  EXPECT_EQ(FormatUuid(UuidV5(ns, "award:3d1f0a6e")), "67a766ae-d577-52ae-8d41-2ddef33974ab");
}

}  // namespace
}  // namespace lottery::domain
