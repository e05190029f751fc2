#include "stakegen.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "lottery/domain/money.h"
#include "lottery/domain/uuid.h"
#include "lottery/v1/stake.pb.h"

namespace lottery::stakegen {
namespace {

// Namespace of the v5 pool ids (a fixed random v4, chosen once for this tool).
constexpr domain::Uuid kPoolNamespace = {0x6b, 0x1f, 0x3c, 0x52, 0x9a, 0x0e, 0x4d, 0x7b,
                                         0x8c, 0x21, 0x5e, 0x90, 0xd4, 0x17, 0xa3, 0x66};

constexpr size_t kHistory = 4096;
constexpr int kMaxPool = 1'000'000;

// The JSON body with each game field given as a raw JSON member ("" leaves it out).
std::string Json(std::string_view player_member, std::string_view game_member,
                 std::string_view stake_member) {
  std::string game;
  for (std::string_view m : {player_member, game_member, stake_member}) {
    if (m.empty()) continue;
    absl::StrAppend(&game, game.empty() ? "" : ",", absl::string_view(m.data(), m.size()));
  }
  return absl::StrCat(R"({"message":{"eventType":")",
                      absl::string_view(kEventType.data(), kEventType.size()), R"("},"game":{)",
                      game, "}}");
}

std::string Str(std::string_view name, const std::string& value) {
  return absl::StrCat("\"", absl::string_view(name.data(), name.size()), "\":\"", value, "\"");
}

std::string Proto(const std::string* player, const std::string* game, const std::string* stake,
                  bool with_game = true) {
  lottery::v1::StakeCreated m;
  m.mutable_message()->set_event_type(std::string(kEventType));
  if (with_game) {
    auto* g = m.mutable_game();
    if (player != nullptr) g->set_player_id(*player);
    if (game != nullptr) g->set_game_id(*game);
    if (stake != nullptr) g->set_stake(*stake);
  }
  return m.SerializeAsString();
}

Headers HeadersFor(Format format, const std::string& event_id) {
  Headers h{{"uuid", event_id}};
  if (format == Format::kProtobuf)
    h.emplace_back("content-type", std::string(kProtobufContentType));
  return h;
}

// A bad stake value for a stake_* kind, "" if `kind` is not one.
std::string BadStake(std::string_view kind) {
  if (kind == "stake_negative") return "-5";
  if (kind == "stake_zero") return "0";
  if (kind == "stake_three_decimals") return "1.234";
  if (kind == "stake_not_a_number") return "abc";
  if (kind == "stake_exponent") return "1e3";
  return "";
}

}  // namespace

absl::StatusOr<Format> ParseFormat(std::string_view text) {
  if (text == "json") return Format::kJson;
  if (text == "protobuf") return Format::kProtobuf;
  return absl::InvalidArgumentError(absl::StrCat("format must be json or protobuf, not '",
                                                 absl::string_view(text.data(), text.size()), "'"));
}

std::string_view ToString(Format format) { return format == Format::kJson ? "json" : "protobuf"; }

std::string FormatStake(int64_t minor) {
  std::string s = absl::StrCat(minor / 100);
  int64_t cents = minor % 100;
  if (cents == 0) return s;
  if (cents % 10 == 0) return absl::StrCat(s, ".", cents / 10);
  return absl::StrCat(s, ".", cents < 10 ? "0" : "", cents);
}

Message BuildStake(Format format, const std::string& event_id, const std::string& player_id,
                   const std::string& game_id, int64_t stake_minor) {
  Message m;
  std::string stake = FormatStake(stake_minor);
  if (format == Format::kJson) {
    m.value = Json(Str("playerId", player_id), Str("gameId", game_id), Str("stake", stake));
  } else {
    m.value = Proto(&player_id, &game_id, &stake);
  }
  m.headers = HeadersFor(format, event_id);
  return m;
}

const std::vector<std::string>& MalformedKinds(Format format) {
  static const std::vector<std::string> json = {
      "bad_json",           "empty_value",     "not_an_object",     "invalid_utf8",
      "missing_game",       "game_not_object", "missing_player_id", "missing_game_id",
      "missing_stake",      "bad_player_uuid", "bad_game_uuid",     "player_id_not_string",
      "stake_not_string",   "stake_negative",  "stake_zero",        "stake_three_decimals",
      "stake_not_a_number", "stake_exponent"};
  static const std::vector<std::string> proto = {
      "bad_protobuf",       "missing_game",   "missing_player_id", "bad_player_uuid",
      "bad_game_uuid",      "stake_negative", "stake_zero",        "stake_three_decimals",
      "stake_not_a_number", "stake_exponent"};
  return format == Format::kJson ? json : proto;
}

absl::StatusOr<Message> BuildMalformed(Format format, std::string_view kind,
                                       const std::string& event_id, const std::string& player_id,
                                       const std::string& game_id, int64_t stake_minor) {
  const std::string stake = FormatStake(stake_minor);
  // The uuid with its last character dropped: right shape at a glance, wrong length.
  const std::string bad_game = game_id.substr(0, game_id.size() - 1);
  const std::string bad_player = "not-a-uuid";
  const std::string bad_stake = BadStake(kind);
  Message m;
  m.kind = Kind::kMalformed;
  m.malformed_kind = std::string(kind);
  m.headers = HeadersFor(format, event_id);
  bool known = true;
  if (format == Format::kJson) {
    const std::string p = Str("playerId", player_id), g = Str("gameId", game_id),
                      s = Str("stake", stake);
    if (kind == "bad_json") {
      std::string full = Json(p, g, s);
      m.value = full.substr(0, full.size() / 2);
    } else if (kind == "empty_value") {
      m.value = "";
    } else if (kind == "not_an_object") {
      m.value = R"(["player.stakeCreated"])";
    } else if (kind == "invalid_utf8") {
      m.value = Json(p, g, absl::StrCat("\"stake\":\"", stake, "\xff\xfe\""));
    } else if (kind == "missing_game") {
      m.value = R"({"message":{"eventType":"player.stakeCreated"}})";
    } else if (kind == "game_not_object") {
      m.value = R"({"message":{"eventType":"player.stakeCreated"},"game":"stake"})";
    } else if (kind == "missing_player_id") {
      m.value = Json("", g, s);
    } else if (kind == "missing_game_id") {
      m.value = Json(p, "", s);
    } else if (kind == "missing_stake") {
      m.value = Json(p, g, "");
    } else if (kind == "bad_player_uuid") {
      m.value = Json(Str("playerId", bad_player), g, s);
    } else if (kind == "bad_game_uuid") {
      m.value = Json(p, Str("gameId", bad_game), s);
    } else if (kind == "player_id_not_string") {
      m.value = Json("\"playerId\":12345", g, s);
    } else if (kind == "stake_not_string") {
      m.value = Json(p, g, absl::StrCat("\"stake\":", stake));
    } else if (!bad_stake.empty()) {
      m.value = Json(p, g, Str("stake", bad_stake));
    } else {
      known = false;
    }
  } else {
    if (kind == "bad_protobuf") {
      // Field 2 (game, length-delimited) claiming 100 bytes that are not there.
      m.value = std::string("\x12\x64\x0a\x03", 4) + "abc";
    } else if (kind == "missing_game") {
      m.value = Proto(nullptr, nullptr, nullptr, /*with_game=*/false);
    } else if (kind == "missing_player_id") {
      m.value = Proto(nullptr, &game_id, &stake);
    } else if (kind == "bad_player_uuid") {
      m.value = Proto(&bad_player, &game_id, &stake);
    } else if (kind == "bad_game_uuid") {
      m.value = Proto(&player_id, &bad_game, &stake);
    } else if (!bad_stake.empty()) {
      m.value = Proto(&player_id, &game_id, &bad_stake);
    } else {
      known = false;
    }
  }
  if (!known) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown malformed kind '", absl::string_view(kind.data(), kind.size()), "' for format ",
        absl::string_view(ToString(format).data(), ToString(format).size())));
  }
  return m;
}

absl::Status Validate(const Options& o) {
  if (o.players < 1 || o.players > kMaxPool)
    return absl::InvalidArgumentError("players must be in [1, 1000000]");
  if (o.games < 1 || o.games > kMaxPool)
    return absl::InvalidArgumentError("games must be in [1, 1000000]");
  if (o.stake_min_minor < 1) return absl::InvalidArgumentError("stake-min must be at least 0.01");
  if (o.stake_min_minor > o.stake_max_minor)
    return absl::InvalidArgumentError("stake-min exceeds stake-max");
  if (o.stake_max_minor > domain::kDefaultMaxStakeMajor * 100) {
    return absl::InvalidArgumentError("stake-max exceeds the writer's maximum stake");
  }
  auto ratio_ok = [](double r) { return std::isfinite(r) && r >= 0 && r <= 1; };
  if (!ratio_ok(o.duplicate_ratio) || !ratio_ok(o.malformed_ratio) ||
      o.duplicate_ratio + o.malformed_ratio > 1) {
    return absl::InvalidArgumentError(
        "duplicate and malformed ratios must be in [0, 1] and sum to at most 1");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ParseMajor(const std::string& text) {
  return domain::ParseStakeMinor(text);
}

std::vector<std::string> PlayerPool(uint64_t seed, int players) {
  std::vector<std::string> out;
  out.reserve(players);
  for (int i = 0; i < players; ++i) {
    out.push_back(
        domain::FormatUuid(domain::UuidV5(kPoolNamespace, absl::StrCat("player/", seed, "/", i))));
  }
  return out;
}

std::vector<std::string> GamePool(uint64_t seed, int games) {
  std::vector<std::string> out;
  out.reserve(games);
  for (int i = 0; i < games; ++i) {
    out.push_back(
        domain::FormatUuid(domain::UuidV5(kPoolNamespace, absl::StrCat("game/", seed, "/", i))));
  }
  return out;
}

Generator::Generator(const Options& options, uint64_t stream)
    : options_(options),
      players_(PlayerPool(options.seed, options.players)),
      games_(GamePool(options.seed, options.games)) {
  std::seed_seq seq{static_cast<uint32_t>(options.seed), static_cast<uint32_t>(options.seed >> 32),
                    static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)};
  rng_.seed(seq);
}

uint64_t Generator::Uniform(uint64_t n) {
  // Rejection sampling: unbiased and, unlike std::uniform_int_distribution, the same sequence on
  // every standard library.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = rng_();
  } while (x >= limit);
  return x % n;
}

double Generator::Unit() { return static_cast<double>(rng_() >> 11) * 0x1.0p-53; }

Message Generator::Next() {
  const double r = Unit();
  const std::string& player = players_[Uniform(players_.size())];
  const std::string& game = games_[Uniform(games_.size())];
  const int64_t stake =
      options_.stake_min_minor +
      static_cast<int64_t>(
          Uniform(static_cast<uint64_t>(options_.stake_max_minor - options_.stake_min_minor) + 1));
  const std::string id = domain::FormatUuid(domain::NewRandomUuid());
  if (r < options_.malformed_ratio) {
    const auto& kinds = MalformedKinds(options_.format);
    const std::string& kind = kinds[malformed_next_++ % kinds.size()];
    return *BuildMalformed(options_.format, kind, id, player, game, stake);  // kind is known
  }
  if (r < options_.malformed_ratio + options_.duplicate_ratio && !history_.empty()) {
    Message dup = history_[Uniform(history_.size())];
    dup.kind = Kind::kDuplicate;
    return dup;
  }
  Message m = BuildStake(options_.format, id, player, game, stake);
  if (history_.size() < kHistory) {
    history_.push_back(m);
  } else {
    history_[history_next_++ % kHistory] = m;
  }
  return m;
}

}  // namespace lottery::stakegen
