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

TEST(UuidTest, V5MatchesRfc4122) {
  // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org")
  const Uuid dns = *ParseUuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8");
  EXPECT_EQ(FormatUuid(UuidV5(dns, "python.org")), "886313e1-3b8a-5372-9b90-0c9aee199e5d");
  const Uuid ns = *ParseUuid("6f1c2b9e-0d4a-4e8b-9a51-0c3f2e7d1a01");
  EXPECT_EQ(FormatUuid(UuidV5(ns, "award:3d1f0a6e")), "67a766ae-d577-52ae-8d41-2ddef33974ab");
}

}  // namespace
}  // namespace lottery::domain
