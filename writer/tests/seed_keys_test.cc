// The seed keyring: its text format, which key is active, and that a key id it does not hold is
// a refusal (kFailedPrecondition), never another key.
#include "lottery/writer/seed_keys.h"

#include <cstdio>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/hex.h"
#include "lottery/domain/seed.h"

namespace lottery::writer {
namespace {

using ::lottery::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kKeyA(64, 'a');  // 32 bytes of 0xaa
const std::string kKeyB = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f2021";

TEST(SeedKeyringTest, TheLastEntryIsActiveAndEveryEntryIsHeld) {
  auto ring = SeedKeyring::Parse("# comment\n\n k1 : " + kKeyA + "\r\nk2:" + kKeyB + "\n");
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ(ring->active_id(), "k2");
  EXPECT_EQ(ring->ids(), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_TRUE(ring->Holds("k1"));
  EXPECT_FALSE(ring->Holds("k3"));
  auto commas = SeedKeyring::Parse("k2:" + kKeyB + ",k1:" + kKeyA);
  ASSERT_TRUE(commas.ok()) << commas.status();
  EXPECT_EQ(commas->active_id(), "k1");
}

TEST(SeedKeyringTest, SeedForIsDeriveSeedUnderThatKey) {
  auto ring = *SeedKeyring::Parse("k1:" + kKeyA + "\nk2:" + kKeyB);
  const domain::Uuid id = *domain::ParseUuid("3d1f0a6e-8b2c-4d7e-9f10-a1b2c3d4e5f6");
  EXPECT_EQ(*ring.SeedFor("k1", id), *domain::DeriveSeed(*domain::FromHex(kKeyA), id));
  EXPECT_EQ(*ring.SeedFor("k2", id), *domain::DeriveSeed(*domain::FromHex(kKeyB), id));
  EXPECT_NE(*ring.SeedFor("k1", id), *ring.SeedFor("k2", id));
}

TEST(SeedKeyringTest, AnUnknownKeyIdIsARefusalNamingTheId) {
  auto ring = *SeedKeyring::Parse("k1:" + kKeyA);
  const domain::Uuid id = *domain::ParseUuid("3d1f0a6e-8b2c-4d7e-9f10-a1b2c3d4e5f6");
  EXPECT_THAT(ring.SeedFor("k0", id).status(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("'k0'")));
}

TEST(SeedKeyringTest, MalformedTextIsRejectedWithoutEchoingAKey) {
  const std::string short_key(62, 'c');
  for (const std::string& text :
       {std::string(""), std::string("# only a comment\n"), "k1" + kKeyA, "k1:" + short_key,
        "k1:" + kKeyA + "zz", "k 1:" + kKeyA, ":" + kKeyA, "k1:" + kKeyA + "\nk1:" + kKeyB,
        std::string(65, 'i') + ":" + kKeyA}) {
    SCOPED_TRACE(text);
    auto ring = SeedKeyring::Parse(text);
    EXPECT_THAT(ring.status(), StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(std::string(ring.status().message()), Not(HasSubstr(kKeyA)));
    EXPECT_THAT(std::string(ring.status().message()), Not(HasSubstr(short_key)));
  }
}

TEST(SeedKeyringTest, LoadsTheFileBeforeTheVariable) {
  const std::string path = ::testing::TempDir() + "/seed_keys_test.keys";
  std::ofstream(path) << "file:" << kKeyA << "\n";
  auto from_file = LoadSeedKeyring(path, "env:" + kKeyB);
  ASSERT_TRUE(from_file.ok()) << from_file.status();
  EXPECT_EQ((*from_file)->active_id(), "file");
  auto from_env = LoadSeedKeyring("", "env:" + kKeyB);
  ASSERT_TRUE(from_env.ok()) << from_env.status();
  EXPECT_EQ((*from_env)->active_id(), "env");
  EXPECT_THAT(LoadSeedKeyring("", "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("LOTTERY_SEED_KEY_FILE")));
  EXPECT_THAT(LoadSeedKeyring(path + ".absent", "").status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::remove(path.c_str());
}

}  // namespace
}  // namespace lottery::writer
