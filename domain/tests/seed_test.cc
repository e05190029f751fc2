// DeriveSeed against the vectors of docs/fairness.md ("Derived seeds"), which were computed by the
// Python reference implementation printed there (hmac/hashlib), not by this C++ code.
#include "lottery/domain/seed.h"

#include <string>
#include <string_view>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/hex.h"

namespace lottery::domain {
namespace {

using ::lottery::testing::StatusIs;

struct SeedVector {
  std::string_view name, key_hex, lottery_id, seed_hex, commitment_hex;
};

constexpr SeedVector kVectors[] = {
    {"S1", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "3d1f0a6e-8b2c-4d7e-9f10-a1b2c3d4e5f6",
     "9d13ccfe08f72cc2db5b6de8bf66dca0550c7eed2867844bc4c83fbe7758abee",
     "c71555ea9c326108c56f25ef95111ec82fa4e9d6c5b1d9a892feeb572ff52385"},
    {"S2", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "c0ffee00-0000-4000-8000-000000000002",
     "f23c54a8be26373d82dc384a193701b42d397b2a23c2c532d31ccd24e1ba9dcf",
     "05a0b4c5a737b3f41a2eec3cdea68f365917bf30c03e73a0f907921cd4e295ef"},
    {"S3",
     "f856923facdcf2c1f9b685e61d9f9b952364ad18baa3fecfe1e3ff122a51a22d46be2688cca2f74ca1343eead9a1"
     "4e9b400c37412716b696beae32369f93a5510001020304050607",
     "00000000-0000-0000-0000-000000000000",
     "2d21e2183e7437c194092658c88762d5cbd9e0c1eec26edb1dc62dc75d59aeec",
     "0f89ff76d64c1f99396dc51967e4e172edc0f3e5c760c5a99f61ff0015d354b9"},
};

TEST(DeriveSeedTest, MatchesTheReferenceImplementation) {
  for (const SeedVector& v : kVectors) {
    SCOPED_TRACE(v.name);
    const std::string key = *FromHex(v.key_hex);
    const absl::StatusOr<Seed> seed = DeriveSeed(key, *ParseUuid(v.lottery_id));
    ASSERT_TRUE(seed.ok()) << seed.status();
    EXPECT_EQ(ToHex(*seed), v.seed_hex);
    EXPECT_EQ(ToHex(Commitment(*seed)), v.commitment_hex);
  }
}

TEST(DeriveSeedTest, EveryKeyByteAndIdByteMatters) {
  const std::string key = *FromHex(kVectors[0].key_hex);
  const Uuid id = *ParseUuid(kVectors[0].lottery_id);
  const Seed base = *DeriveSeed(key, id);
  for (size_t i = 0; i < key.size(); ++i) {
    std::string k = key;
    k[i] ^= 1;
    EXPECT_NE(*DeriveSeed(k, id), base) << "key byte " << i;
  }
  for (size_t i = 0; i < id.size(); ++i) {
    Uuid u = id;
    u[i] ^= 1;
    EXPECT_NE(*DeriveSeed(key, u), base) << "id byte " << i;
  }
}

TEST(DeriveSeedTest, RefusesShortKeys) {
  const Uuid id = *ParseUuid(kVectors[0].lottery_id);
  EXPECT_THAT(DeriveSeed(std::string(31, 'k'), id).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(DeriveSeed("", id).status(), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_TRUE(DeriveSeed(std::string(32, 'k'), id).ok());
}

}  // namespace
}  // namespace lottery::domain
