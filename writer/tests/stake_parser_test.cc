// The stake parser against the game service's contract: valid stakes in both wire forms,
// derived ids, skips, and every malformed kind rejected with its exact reason.
#include "lottery/writer/stake_parser.h"

#include <cstring>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/v1/stake.pb.h"

namespace lottery::writer {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kPlayer[] = "0b9d6a3e-1f2c-4c55-9a1e-2f0c3d4e5f60";
constexpr char kGame[] = "7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e";
constexpr char kEvent[] = "11111111-2222-4333-8444-555555555555";

std::string Json(const std::string& player, const std::string& game, const std::string& stake) {
  return R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":")" + player +
         R"(","gameId":")" + game + R"(","stake":")" + stake + R"("}})";
}

RawMessage Msg(std::string value, bool with_uuid = true) {
  RawMessage m;
  m.topic = "player.v1.staked";
  m.partition = 2;
  m.offset = 41;
  m.value = std::move(value);
  if (with_uuid) m.headers.push_back({"uuid", std::string(kEvent)});
  return m;
}

std::string ReasonOf(const RawMessage& m) {
  ParseResult r = ParseStake(m);
  if (auto* rej = std::get_if<Rejection>(&r)) return rej->reason;
  return "<not rejected>";
}

TEST(StakeParser, ValidJson) {
  ParseResult r = ParseStake(Msg(Json(kPlayer, kGame, "12345.5")));
  ASSERT_TRUE(std::holds_alternative<Stake>(r));
  const Stake& s = std::get<Stake>(r);
  EXPECT_EQ(lottery::domain::FormatUuid(s.event_id), kEvent);
  EXPECT_EQ(lottery::domain::FormatUuid(s.player_id), kPlayer);
  EXPECT_EQ(lottery::domain::FormatUuid(s.game_id), kGame);
  EXPECT_EQ(s.stake_minor, 1234550);
}

TEST(StakeParser, ValidProtobuf) {
  lottery::v1::StakeCreated pb;
  pb.mutable_message()->set_event_type("player.stakeCreated");
  pb.mutable_game()->set_player_id(kPlayer);
  pb.mutable_game()->set_game_id(kGame);
  pb.mutable_game()->set_stake("0.5");
  RawMessage m = Msg(pb.SerializeAsString());
  m.headers.push_back(
      {"content-type", "application/x-protobuf; messageType=lottery.v1.StakeCreated"});
  ParseResult r = ParseStake(m);
  ASSERT_TRUE(std::holds_alternative<Stake>(r));
  EXPECT_EQ(std::get<Stake>(r).stake_minor, 50);
}

TEST(StakeParser, MissingUuidHeaderGivesDeterministicIdFromPosition) {
  RawMessage m = Msg(Json(kPlayer, kGame, "1"), /*with_uuid=*/false);
  ParseResult a = ParseStake(m);
  ParseResult b = ParseStake(m);
  ASSERT_TRUE(std::holds_alternative<Stake>(a));
  EXPECT_EQ(std::get<Stake>(a).event_id, std::get<Stake>(b).event_id);
  EXPECT_EQ(std::get<Stake>(a).event_id, DerivedEventId("player.v1.staked", 2, 41));
  m.offset = 42;
  EXPECT_NE(std::get<Stake>(ParseStake(m)).event_id, std::get<Stake>(a).event_id);
}

TEST(StakeParser, OtherEventTypeIsSkippedNotRejected) {
  ParseResult r = ParseStake(Msg(R"({"message":{"eventType":"player.registered"},"game":{}})"));
  ASSERT_TRUE(std::holds_alternative<Skip>(r));
  EXPECT_EQ(std::get<Skip>(r).event_type, "player.registered");
}

struct Case {
  const char* name;
  RawMessage msg;
  std::string reason;  // exact
};

std::vector<Case> MalformedCases() {
  std::vector<Case> c;
  auto with_header = [](RawMessage m, std::string k, std::optional<std::string> v) {
    m.headers.push_back({std::move(k), std::move(v)});
    return m;
  };
  RawMessage tomb = Msg("");
  tomb.value_is_null = true;
  c.push_back({"empty_value", Msg(""), "value: empty"});
  c.push_back({"tombstone", tomb, "value: null (tombstone)"});
  c.push_back({"oversized", Msg(std::string(kMaxValueBytes + 1, ' ')),
               "value: oversized, 65537 bytes > 65536"});
  c.push_back({"bad_json", Msg(R"({"message":{"eventType":"player.stakeCreated"},)"), "json: "});
  c.push_back({"trailing_garbage", Msg(Json(kPlayer, kGame, "1") + "x"), "json: "});
  c.push_back({"invalid_utf8", Msg(Json(kPlayer, kGame, "1").replace(2, 1, "\xff")), "json: "});
  c.push_back({"not_an_object", Msg("[1,2,3]"), "json: top level is not an object"});
  c.push_back({"missing_message", Msg(R"({"game":{}})"), "message: missing"});
  c.push_back({"message_not_object", Msg(R"({"message":"x"})"), "message: not an object"});
  c.push_back({"missing_event_type", Msg(R"({"message":{}})"), "message.eventType: missing"});
  c.push_back({"event_type_not_string", Msg(R"({"message":{"eventType":7}})"),
               "message.eventType: not a string"});
  c.push_back(
      {"missing_game", Msg(R"({"message":{"eventType":"player.stakeCreated"}})"), "game: missing"});
  c.push_back({"game_not_object",
               Msg(R"({"message":{"eventType":"player.stakeCreated"},"game":[]})"),
               "game: not an object"});
  c.push_back(
      {"missing_player_id",
       Msg(R"({"message":{"eventType":"player.stakeCreated"},"game":{"gameId":"x","stake":"1"}})"),
       "game.playerId: missing"});
  c.push_back(
      {"player_id_not_string",
       Msg(R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":5,"gameId":"x","stake":"1"}})"),
       "game.playerId: not a string"});
  c.push_back(
      {"player_id_null",
       Msg(R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":null,"gameId":"x","stake":"1"}})"),
       "game.playerId: null"});
  c.push_back({"bad_player_uuid", Msg(Json("not-a-uuid", kGame, "1")),
               "game.playerId: uuid: length 10, want 36 (8-4-4-4-12 hex)"});
  c.push_back({"nil_player_uuid", Msg(Json("00000000-0000-0000-0000-000000000000", kGame, "1")),
               "game.playerId: nil UUID"});
  c.push_back(
      {"missing_game_id",
       Msg(R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":"0b9d6a3e-1f2c-4c55-9a1e-2f0c3d4e5f60","stake":"1"}})"),
       "game.gameId: missing"});
  c.push_back({"bad_game_uuid", Msg(Json(kPlayer, "7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5g", "1")),
               "game.gameId: uuid: non-hex character at offset 35"});
  c.push_back(
      {"missing_stake",
       Msg(R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":"0b9d6a3e-1f2c-4c55-9a1e-2f0c3d4e5f60","gameId":"7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e"}})"),
       "game.stake: missing"});
  c.push_back(
      {"stake_not_string",
       Msg(R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":"0b9d6a3e-1f2c-4c55-9a1e-2f0c3d4e5f60","gameId":"7c1e2d3f-4a5b-4c6d-8e7f-901a2b3c4d5e","stake":12}})"),
       "game.stake: not a string"});
  c.push_back({"stake_empty", Msg(Json(kPlayer, kGame, "")), "game.stake: empty"});
  c.push_back({"stake_negative", Msg(Json(kPlayer, kGame, "-5")), "game.stake: negative"});
  c.push_back({"stake_zero", Msg(Json(kPlayer, kGame, "0.00")), "game.stake: zero"});
  c.push_back({"stake_three_decimals", Msg(Json(kPlayer, kGame, "1.005")),
               "game.stake: more than two decimal places"});
  c.push_back(
      {"stake_exponent", Msg(Json(kPlayer, kGame, "1e5")), "game.stake: exponent not allowed"});
  c.push_back(
      {"stake_not_a_number", Msg(Json(kPlayer, kGame, "abc")), "game.stake: non-digit character"});
  c.push_back(
      {"stake_whitespace", Msg(Json(kPlayer, kGame, " 1")), "game.stake: surrounding whitespace"});
  c.push_back({"stake_above_max", Msg(Json(kPlayer, kGame, "1000000001")),
               "game.stake: above the maximum of 1000000000 major units"});
  c.push_back({"stake_oversized", Msg(Json(kPlayer, kGame, std::string(40, '9'))),
               "game.stake: oversized, 40 characters > 32"});
  RawMessage bad_uuid_header = Msg(Json(kPlayer, kGame, "1"), false);
  bad_uuid_header.headers.push_back({"uuid", "123"});
  c.push_back({"bad_uuid_header", bad_uuid_header,
               "header uuid: uuid: length 3, want 36 (8-4-4-4-12 hex)"});
  RawMessage null_uuid_header = Msg(Json(kPlayer, kGame, "1"), false);
  null_uuid_header.headers.push_back({"uuid", std::nullopt});
  c.push_back({"null_uuid_header", null_uuid_header, "header uuid: null value"});
  c.push_back({"unsupported_content_type",
               with_header(Msg(Json(kPlayer, kGame, "1")), "content-type", "text/xml"),
               "content-type: unsupported 'text/xml'"});
  c.push_back({"bad_protobuf",
               with_header(Msg("\xff\xff\xff"), "content-type", "application/x-protobuf"),
               "protobuf: cannot parse lottery.v1.StakeCreated"});
  return c;
}

TEST(StakeParser, EveryMalformedKindIsRejectedWithItsReason) {
  std::vector<Case> cases = MalformedCases();
  ASSERT_GE(cases.size(), 20u);
  for (const Case& c : cases) {
    std::string reason = ReasonOf(c.msg);
    if (c.reason == "json: ") {
      EXPECT_THAT(reason, StartsWith("json: ")) << c.name;
      EXPECT_GT(reason.size(), 6u) << c.name;
    } else {
      EXPECT_EQ(reason, c.reason) << c.name;
    }
  }
}

TEST(StakeParser, RejectionCarriesSanitizedEventId) {
  RawMessage m = Msg("", false);
  m.headers.push_back({"uuid", std::string("bad\x01\xff", 5)});
  ParseResult r = ParseStake(m);
  ASSERT_TRUE(std::holds_alternative<Rejection>(r));
  EXPECT_EQ(std::get<Rejection>(r).event_id, "bad\\x01\\xff");
}

TEST(StakeParser, EveryTruncatedPrefixIsHandled) {
  std::string full = Json(kPlayer, kGame, "12.34");
  for (size_t n = 0; n < full.size(); ++n) {
    ParseResult r = ParseStake(Msg(full.substr(0, n)));
    EXPECT_TRUE(std::holds_alternative<Rejection>(r)) << n;
  }
}

TEST(StakeParser, MaxStakeIsConfigurable) {
  ParseOptions opts;
  opts.max_stake_major = 100;
  EXPECT_TRUE(std::holds_alternative<Stake>(ParseStake(Msg(Json(kPlayer, kGame, "100")), opts)));
  EXPECT_TRUE(
      std::holds_alternative<Rejection>(ParseStake(Msg(Json(kPlayer, kGame, "100.01")), opts)));
}

}  // namespace
}  // namespace lottery::writer

namespace lottery::writer {
namespace {

// Inputs that used to be accepted or skipped without a trace: each is now a rejection.
TEST(StakeParserSilentDrops, NilEventIdIsRejected) {
  RawMessage m = Msg(Json(kPlayer, kGame, "10"), false);
  m.headers.push_back({"uuid", std::string("00000000-0000-0000-0000-000000000000")});
  EXPECT_EQ(ReasonOf(m), "header uuid: nil UUID");
}

TEST(StakeParserSilentDrops, AnEventTypeThatOnlyDiffersInCaseOrSpaceIsRejected) {
  for (const char* type : {"Player.StakeCreated", "player.stakeCreated ", " player.stakecreated",
                           "PLAYER.STAKECREATED", "player. stakeCreated"}) {
    std::string json = Json(kPlayer, kGame, "10");
    json.replace(json.find("player.stakeCreated"), strlen("player.stakeCreated"), type);
    EXPECT_THAT(ReasonOf(Msg(json)), HasSubstr("case or whitespace differs")) << type;
  }
  std::string other = Json(kPlayer, kGame, "10");
  other.replace(other.find("player.stakeCreated"), strlen("player.stakeCreated"),
                "player.stakeCancelled");
  EXPECT_TRUE(std::holds_alternative<Skip>(ParseStake(Msg(other))));
}

TEST(StakeParserSilentDrops, DuplicateKeysAtAnyDepthAreRejected) {
  const std::string g = std::string(R"("playerId":")") + kPlayer + R"(","gameId":")" + kGame + "\"";
  EXPECT_EQ(ReasonOf(Msg(R"({"message":{"eventType":"player.stakeCreated"},"game":{)" + g +
                         R"(,"stake":"10","stake":"500.00"}})")),
            "json: duplicate key game.stake");
  EXPECT_EQ(ReasonOf(Msg(R"({"message":{"eventType":"player.stakeCreated"},"game":{)" + g +
                         R"(,"stake":"10"},"game":{)" + g + R"(,"stake":"9"}})")),
            "json: duplicate key game");
  EXPECT_EQ(ReasonOf(Msg(R"({"message":{"eventType":"player.stakeCreated","x":[{"a":1,"a":2}]},)"
                         R"("game":{)" +
                         g + R"(,"stake":"10"}})")),
            "json: duplicate key message.x[0].a");
}

TEST(StakeParserSilentDrops, KeepRawBoundsWhatARejectionStores) {
  std::string big(10 * 1024 * 1024, 'x');
  RawEvidence e = KeepRaw(big);
  EXPECT_EQ(e.kept.size(), kRawKeepBytes);
  EXPECT_EQ(e.length, static_cast<int64_t>(big.size()));
  EXPECT_TRUE(e.truncated());
  EXPECT_EQ(KeepRaw("abc").sha256_hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_FALSE(KeepRaw("abc").truncated());
}

}  // namespace
}  // namespace lottery::writer

namespace lottery::writer {
namespace {

TEST(ConflictingDuplicate, AnIdenticalRedeliveryIsHarmlessAnyOtherBodyIsNamed) {
  ParseResult r = ParseStake(Msg(Json(kPlayer, kGame, "10")));
  ASSERT_TRUE(std::holds_alternative<Stake>(r));
  const Stake& s = std::get<Stake>(r);
  StakeFields first{s.player_id, s.game_id, s.stake_minor};
  EXPECT_EQ(ConflictingDuplicate(first, s), std::nullopt);
  Stake other = std::get<Stake>(ParseStake(Msg(Json(kPlayer, kEvent, "500.00"))));
  auto reason = ConflictingDuplicate(first, other);
  ASSERT_TRUE(reason.has_value());
  EXPECT_THAT(*reason, StartsWith("conflicting duplicate"));
  EXPECT_THAT(*reason, HasSubstr("gameId"));
  EXPECT_THAT(*reason, HasSubstr("1000 -> 50000"));
}

}  // namespace
}  // namespace lottery::writer

namespace lottery::writer {
namespace {

// simdjson accepts 1024 levels; the check used to stop looking at 64, so a duplicate deeper than
// that was read first-wins by us and last-wins by the game service.
TEST(StakeParserSilentDrops, ADuplicateKeyDeeperThan64LevelsIsRejected) {
  std::string nested;
  for (int i = 0; i < 100; ++i) nested += R"({"a":)";
  nested += R"({"k":1,"k":2})";
  for (int i = 0; i < 100; ++i) nested += "}";
  std::string json = Json(kPlayer, kGame, "10");
  json.insert(json.size() - 1, R"(,"x":)" + nested);
  EXPECT_THAT(ReasonOf(Msg(json)), StartsWith("json: duplicate key x.a.a.a"));
  // An escaped spelling of the same key is the same key.
  std::string escaped = Json(kPlayer, kGame, "10");
  escaped.insert(escaped.size() - 2, R"(,"st\u0061ke":"500.00")");
  EXPECT_EQ(ReasonOf(Msg(escaped)), "json: duplicate key game.stake");
}

// Whitespace is not only ' ', '\t', '\n', '\r': a form feed, a no-break space or a zero-width
// space in the constant of a producer used to make the stake a silent skip.
TEST(StakeParserSilentDrops, AnEventTypeWithOtherWhitespaceIsRejected) {
  for (const char* type : {"player.stakeCreated\\f", "\\u000bplayer.stakeCreated",
                           "player.stakeCreated\xc2\xa0", "\xe2\x80\x8bplayer.stakeCreated",
                           "player.\xef\xbb\xbfstake\xe3\x80\x80"
                           "Created",
                           "player.stakeCreated\\u00a0"}) {
    std::string json = Json(kPlayer, kGame, "10");
    json.replace(json.find("player.stakeCreated"), strlen("player.stakeCreated"), type);
    EXPECT_THAT(ReasonOf(Msg(json)), HasSubstr("case or whitespace differs")) << type;
  }
  for (const char* other :
       {"player.stakeCreatedd", "player.stake-created", "xplayer.stakeCreated"}) {
    std::string json = Json(kPlayer, kGame, "10");
    json.replace(json.find("player.stakeCreated"), strlen("player.stakeCreated"), other);
    EXPECT_TRUE(std::holds_alternative<Skip>(ParseStake(Msg(json)))) << other;
  }
}

}  // namespace
}  // namespace lottery::writer
