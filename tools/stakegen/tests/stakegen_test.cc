// The generator without a broker: the exact bytes of a stake, that every malformed kind is really
// malformed (by the tests' own reading of the contract), determinism, ratios, the POST body.
#include "stakegen.h"

#include <map>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/money.h"
#include "lottery/domain/uuid.h"
#include "lottery/v1/stake.pb.h"
#include "serve.h"
#include "stake_check.h"

namespace lottery::stakegen {
namespace {

using ::lottery::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::Pair;

const std::string kId = "0b6f1e55-2d5e-4c11-9a4c-1f2e3d4c5b6a";
const std::string kPlayer = "7d3c9a10-1111-4222-8333-444455556666";
const std::string kGame = "a1b2c3d4-0000-4000-8000-000000000001";

std::optional<std::string> ContentType(const Message& m) {
  for (const auto& [k, v] : m.headers) {
    if (k == "content-type") return v;
  }
  return std::nullopt;
}

TEST(FormatStake, MatchesTheGameServiceForm) {
  EXPECT_EQ(FormatStake(1234500), "12345");
  EXPECT_EQ(FormatStake(1250), "12.5");
  EXPECT_EQ(FormatStake(1205), "12.05");
  EXPECT_EQ(FormatStake(1), "0.01");
  EXPECT_EQ(FormatStake(50), "0.5");
  EXPECT_EQ(FormatStake(100), "1");
  // Round trip through the writer's parser for every cent value of a range.
  for (int64_t m = 1; m < 20000; ++m) {
    auto back = domain::ParseStakeMinor(FormatStake(m));
    ASSERT_TRUE(back.ok()) << m;
    ASSERT_EQ(*back, m);
  }
}

TEST(BuildStake, JsonIsByteExactWithOnlyTheUuidHeader) {
  Message m = BuildStake(Format::kJson, kId, kPlayer, kGame, 1234500);
  EXPECT_EQ(m.value, R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":")" +
                         kPlayer + R"(","gameId":")" + kGame + R"(","stake":"12345"}})");
  EXPECT_THAT(m.headers, ElementsAre(Pair("uuid", kId)));
  EXPECT_EQ(m.kind, Kind::kValid);
  EXPECT_EQ(BuildStake(Format::kJson, kId, kPlayer, kGame, 1250).value.find(R"("stake":"12.5")") !=
                std::string::npos,
            true);
}

TEST(BuildStake, ProtobufCarriesTheAgreedContentType) {
  Message m = BuildStake(Format::kProtobuf, kId, kPlayer, kGame, 1205);
  EXPECT_THAT(m.headers,
              ElementsAre(Pair("uuid", kId),
                          Pair("content-type",
                               "application/x-protobuf; messageType=lottery.v1.StakeCreated")));
  lottery::v1::StakeCreated p;
  ASSERT_TRUE(p.ParseFromString(m.value));
  EXPECT_EQ(p.message().event_type(), "player.stakeCreated");
  EXPECT_EQ(p.game().player_id(), kPlayer);
  EXPECT_EQ(p.game().game_id(), kGame);
  EXPECT_EQ(p.game().stake(), "12.05");
}

TEST(BuildMalformed, EveryKindIsRejectedAndValidOnesAccepted) {
  for (Format f : {Format::kJson, Format::kProtobuf}) {
    auto valid = BuildStake(f, kId, kPlayer, kGame, 4200);
    ASSERT_OK(testing::CheckStake(valid.value, ContentType(valid)));
    std::set<std::string> values;
    for (const std::string& kind : MalformedKinds(f)) {
      auto m = BuildMalformed(f, kind, kId, kPlayer, kGame, 4200);
      ASSERT_OK(m);
      EXPECT_EQ(m->kind, Kind::kMalformed);
      EXPECT_EQ(m->malformed_kind, kind);
      EXPECT_EQ(m->headers.front(), (std::pair<std::string, std::string>("uuid", kId)));
      EXPECT_EQ(ContentType(*m), ContentType(valid)) << kind;
      EXPECT_THAT(testing::CheckStake(m->value, ContentType(*m)),
                  StatusIs(absl::StatusCode::kInvalidArgument))
          << ToString(f) << " " << kind << ": " << m->value;
      values.insert(m->value);
    }
    EXPECT_EQ(values.size(), MalformedKinds(f).size()) << "two kinds build the same bytes";
  }
  EXPECT_GE(MalformedKinds(Format::kJson).size(), 15u);
  EXPECT_THAT(BuildMalformed(Format::kJson, "no_such_kind", kId, kPlayer, kGame, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BuildMalformed(Format::kProtobuf, "bad_json", kId, kPlayer, kGame, 1),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Pools, DeterministicDistinctCanonical) {
  auto a = PlayerPool(7, 50), b = PlayerPool(7, 50), c = PlayerPool(8, 50);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::set<std::string> all(a.begin(), a.end());
  for (const auto& g : GamePool(7, 50)) all.insert(g);
  EXPECT_EQ(all.size(), 100u);
  for (const auto& id : all) EXPECT_TRUE(domain::IsCanonicalUuid(id)) << id;
  // A larger pool extends a smaller one: POST /stake with more players keeps the first ones.
  auto big = PlayerPool(7, 60);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), big.begin()));
}

Options Mixed() {
  Options o;
  o.players = 30;
  o.games = 4;
  o.stake_min_minor = 150;
  o.stake_max_minor = 250;
  o.duplicate_ratio = 0.1;
  o.malformed_ratio = 0.05;
  o.seed = 99;
  return o;
}

// The value without its event id (ids are fresh by design).
std::string Shape(const Message& m) {
  return m.value + "|" + std::to_string(static_cast<int>(m.kind)) + m.malformed_kind;
}

TEST(Generator, SameSeedSameSequenceFreshIds) {
  Generator a(Mixed()), b(Mixed()), other(Mixed(), /*stream=*/1);
  int differ = 0;
  for (int i = 0; i < 500; ++i) {
    Message ma = a.Next(), mb = b.Next(), mo = other.Next();
    ASSERT_EQ(Shape(ma), Shape(mb)) << i;
    if (ma.kind == Kind::kValid) EXPECT_NE(ma.headers[0].second, mb.headers[0].second);
    differ += Shape(ma) != Shape(mo);
  }
  EXPECT_GT(differ, 400);
}

TEST(Generator, RatiosDuplicatesAndStakeRange) {
  Generator g(Mixed());
  std::map<std::string, std::string> value_by_id;  // first valid message per event id
  std::map<std::string, int> malformed_kinds;
  int valid = 0, dup = 0, malformed = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    Message m = g.Next();
    const std::string& id = m.headers[0].second;
    ASSERT_TRUE(domain::IsCanonicalUuid(id));
    switch (m.kind) {
      case Kind::kValid: {
        ++valid;
        ASSERT_TRUE(value_by_id.emplace(id, m.value).second) << "fresh id repeated";
        auto s = testing::CheckStake(m.value, std::nullopt);
        ASSERT_OK(s);
        auto minor = domain::ParseStakeMinor(s->stake);
        ASSERT_TRUE(*minor >= 150 && *minor <= 250) << s->stake;
        EXPECT_TRUE(std::count(g.players().begin(), g.players().end(), s->player_id));
        EXPECT_TRUE(std::count(g.games().begin(), g.games().end(), s->game_id));
        break;
      }
      case Kind::kDuplicate:
        ++dup;
        ASSERT_TRUE(value_by_id.count(id)) << "duplicate of an event never sent";
        EXPECT_EQ(value_by_id[id], m.value);
        break;
      case Kind::kMalformed:
        ++malformed;
        ++malformed_kinds[m.malformed_kind];
        ASSERT_FALSE(value_by_id.count(id));
        break;
    }
  }
  EXPECT_NEAR(dup, 0.10 * n, 0.02 * n);
  EXPECT_NEAR(malformed, 0.05 * n, 0.015 * n);
  EXPECT_EQ(valid + dup + malformed, n);
  EXPECT_EQ(malformed_kinds.size(), MalformedKinds(Format::kJson).size())
      << "rotation covers every kind";
}

TEST(Options, ValidateAndParseMajor) {
  Options o;
  EXPECT_OK(Validate(o));
  o.duplicate_ratio = 0.7;
  o.malformed_ratio = 0.4;
  EXPECT_THAT(Validate(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = Options();
  o.stake_min_minor = 500;
  o.stake_max_minor = 100;
  EXPECT_THAT(Validate(o), StatusIs(absl::StatusCode::kInvalidArgument));
  o = Options();
  o.players = 0;
  EXPECT_THAT(Validate(o), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(*ParseMajor("12.5"), 1250);
  EXPECT_EQ(*ParseMajor("0.01"), 1);
  EXPECT_THAT(ParseMajor("1.234"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseFormat("xml"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseStakeRequest, DefaultsFieldsAndErrors) {
  const StakeRequest d{100, 10, 200};
  auto r = ParseStakeRequest("", d);
  ASSERT_OK(r);
  EXPECT_EQ(r->count, 100);
  r = ParseStakeRequest(R"({"count":5,"players":3})", d);
  ASSERT_OK(r);
  EXPECT_EQ(r->count, 5);
  EXPECT_EQ(r->games, 10);
  EXPECT_EQ(r->players, 3);
  for (const char* bad : {"{", "[1]", R"({"count":0})", R"({"count":"5"})", R"({"games":1.5})",
                          R"({"colour":1})", R"({"count":100000000})"}) {
    EXPECT_THAT(ParseStakeRequest(bad, d), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
}

}  // namespace
}  // namespace lottery::stakegen
