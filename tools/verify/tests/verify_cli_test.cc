// Runs the built lottery-verify binary, as an auditor would, on good and tampered awards.
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lottery/domain/award.h"
#include "lottery/domain/hex.h"
#include "test_vectors.h"

namespace lottery::domain {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

struct RunResult {
  int exit_code;
  std::string out;
};

RunResult RunVerify(const std::string& args) {
  const std::string command = std::string(LOTTERY_VERIFY_BIN) + " " + args + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string WriteFile(const std::string& name, const std::string& data) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << data;
  return path;
}

Uuid U(std::string_view s) { return *ParseUuid(s); }

lottery::v1::AwardCreated AwardOf(const testing::DrawVector& v) {
  std::vector<Entry> entries;
  for (const auto& e : v.entries) entries.push_back(Entry{U(e.player_id), e.stake_minor});
  const DrawMode mode = *ParseDrawMode(v.mode);
  return *DrawAward(UuidV5(U(v.lottery_id), "award"), U(v.lottery_id),
                    U("99999999-9999-4999-8999-999999999999"), *FromHexArray<32>(v.seed_hex), mode,
                    *ParticipantsFromEntries(mode, entries), *ParsePrizePolicy(v.policy), v.bps,
                    absl::FromUnixSeconds(1700000000));
}

TEST(VerifyCliTest, GoodAwardsVerifyInBinaryAndJson) {
  for (const testing::DrawVector& v : testing::DrawVectors()) {
    SCOPED_TRACE(v.name);
    const lottery::v1::AwardCreated award = AwardOf(v);
    const std::string bin = WriteFile("good.pb", award.SerializeAsString());
    RunResult r = RunVerify("award " + bin);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "verified\n");
    r = RunVerify("award - < " + bin);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "verified\n");

    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(award, &json).ok());
    r = RunVerify("award --json " + WriteFile("good.json", json));
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out, "verified\n");
  }
}

TEST(VerifyCliTest, TamperedAwardsFailNamingTheField) {
  struct Tamper {
    std::string name;
    std::function<void(lottery::v1::AwardCreated&)> apply;
    std::string field;
  };
  const std::vector<Tamper> tampers = {
      {"participant",
       [](auto& a) {
         a.mutable_proof()->mutable_participants(0)->set_player_id(
             "12345678-1234-4234-8234-123456789012");
       },
       "proof.entries_digest"},
      {"order", [](auto& a) { a.mutable_proof()->mutable_participants()->SwapElements(0, 1); },
       "proof.entries_digest"},
      {"stake",
       [](auto& a) {
         auto* p = a.mutable_proof()->mutable_participants(1);
         p->set_total_stake_minor(p->total_stake_minor() + 100);
         p->set_weight(p->weight() + 100);
       },
       "proof.entries_digest"},
      {"seed",
       [](auto& a) {
         std::string s = a.proof().server_seed();
         s[5] ^= 0x40;
         a.mutable_proof()->set_server_seed(s);
       },
       "proof.commitment"},
      {"lottery id", [](auto& a) { a.set_lottery_id("c0ffee00-0000-4000-8000-0000000000ff"); },
       "proof."},
      {"counter", [](auto& a) { a.mutable_proof()->set_counter(a.proof().counter() + 1); },
       "proof.counter"},
      {"winner", [](auto& a) { a.set_player_id("11111111-1111-4111-8111-111111111111"); },
       "player_id"},
      {"win sum", [](auto& a) { a.set_win_sum_minor(a.win_sum_minor() - 1); }, "win_sum_minor"},
  };
  const lottery::v1::AwardCreated good = AwardOf(testing::DrawVectors()[1]);
  for (const Tamper& t : tampers) {
    lottery::v1::AwardCreated bad = good;
    t.apply(bad);
    const RunResult r = RunVerify("award " + WriteFile("bad.pb", bad.SerializeAsString()));
    EXPECT_EQ(r.exit_code, 1) << t.name;
    EXPECT_THAT(r.out, StartsWith("mismatch: " + t.field)) << t.name;
  }
}

TEST(VerifyCliTest, PolicyFlagAndUnreadableInput) {
  const lottery::v1::AwardCreated good = AwardOf(testing::DrawVectors()[1]);  // pot, 3300
  const std::string bin = WriteFile("good.pb", good.SerializeAsString());
  EXPECT_EQ(RunVerify("award --policy pot --bps 3300 " + bin).exit_code, 0);
  const RunResult wrong = RunVerify("award --policy winner_stake " + bin);
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_THAT(wrong.out, StartsWith("mismatch: prize_policy"));
  EXPECT_EQ(RunVerify("award --policy jackpot " + bin).exit_code, 2);
  EXPECT_EQ(RunVerify("award " + WriteFile("junk.pb", "\xff\xff\xff")).exit_code, 2);
  EXPECT_EQ(RunVerify("award --json " + WriteFile("junk.json", "{\"nope\":1}")).exit_code, 2);
  EXPECT_EQ(RunVerify("award /nonexistent/award.pb").exit_code, 2);
  EXPECT_EQ(RunVerify("frobnicate").exit_code, 2);
}

TEST(VerifyCliTest, DrawPrintsTheVectorValues) {
  const testing::DrawVector& v = testing::DrawVectors()[1];
  std::string args = "draw --lottery-id " + std::string(v.lottery_id) + " --seed " +
                     std::string(v.seed_hex) + " --mode " + std::string(v.mode);
  for (const auto& e : v.entries) {
    args += " --participant " + std::string(e.player_id) + ":" + std::to_string(e.stake_minor);
  }
  const RunResult r = RunVerify(args);
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, HasSubstr("\"commitment\":\"" + std::string(v.commitment_hex) + "\""));
  EXPECT_THAT(r.out, HasSubstr("\"entries_digest\":\"" + std::string(v.entries_digest_hex) + "\""));
  EXPECT_THAT(r.out, HasSubstr("\"total_weight\":" + std::to_string(v.total_weight) + ","));
  EXPECT_THAT(r.out, HasSubstr("\"counter\":" + std::to_string(v.counter) + ","));
  EXPECT_THAT(r.out, HasSubstr("\"ticket\":" + std::to_string(v.ticket) + ","));
  EXPECT_THAT(r.out, HasSubstr("\"winner\":\"" + std::string(v.winner) + "\""));

  EXPECT_EQ(RunVerify("draw --lottery-id x --seed 00 --mode uniform --participant a:1").exit_code,
            2);
}

TEST(VerifyCliTest, DumpRawWritesTheXSequence) {
  const testing::DrawVector& v = testing::DrawVectors()[2];  // three attempts
  const std::string args = "dump-raw 3 --format decimal --seed " + std::string(v.seed_hex) +
                           " --lottery-id " + std::string(v.lottery_id) + " --entries-digest " +
                           std::string(v.entries_digest_hex);
  const RunResult r = RunVerify(args);
  ASSERT_EQ(r.exit_code, 0);
  std::string want;
  for (uint64_t x : v.x_by_counter) want += std::to_string(x) + "\n";
  EXPECT_EQ(r.out, want);

  const RunResult binary = RunVerify("dump-raw 1000");  // fresh seeds
  EXPECT_EQ(binary.exit_code, 0);
  EXPECT_EQ(binary.out.size(), 8000u);
}

}  // namespace
}  // namespace lottery::domain
