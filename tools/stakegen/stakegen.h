// lottery-stakegen's generator: builds stake events in exactly the game service's format
// (the input contract of lottery-writer), plus duplicates and a rotating set of malformed
// messages. Pure: no I/O here (publishing is in producer.h, the HTTP endpoint in serve.h).
//
// A valid JSON stake is, byte for byte,
//   {"message":{"eventType":"player.stakeCreated"},"game":{"playerId":"<uuid>","gameId":"<uuid>","stake":"12345"}}
// with one Kafka header `uuid` = a fresh v4 event id and no key. The protobuf form is the binary
// lottery.v1.StakeCreated with the extra header `content-type: kProtobufContentType`.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lottery::stakegen {

inline constexpr std::string_view kDefaultTopic = "player.v1.staked";
inline constexpr std::string_view kEventType = "player.stakeCreated";
inline constexpr std::string_view kProtobufContentType =
    "application/x-protobuf; messageType=lottery.v1.StakeCreated";

enum class Format { kJson, kProtobuf };
absl::StatusOr<Format> ParseFormat(std::string_view text);  // "json" | "protobuf"
std::string_view ToString(Format format);

using Headers = std::vector<std::pair<std::string, std::string>>;

// What a message is meant to be; `malformed_kind` names the defect ("" unless kMalformed).
enum class Kind { kValid, kDuplicate, kMalformed };

struct Message {
  std::string value;
  Headers headers;  // always `uuid`; `content-type` for the protobuf format
  Kind kind = Kind::kValid;
  std::string malformed_kind;
};

// The game service's decimal form of a stake in major units: 1234500 -> "12345",
// 1250 -> "12.5", 1205 -> "12.05". Requires minor > 0.
std::string FormatStake(int64_t minor);

// A valid stake event.
Message BuildStake(Format format, const std::string& event_id, const std::string& player_id,
                   const std::string& game_id, int64_t stake_minor);

// The malformed kinds of a format, in rotation order. Every one of them must be rejected by the
// writer (none is merely "skipped"). JSON: bad_json, empty_value, not_an_object, invalid_utf8,
// missing_game, game_not_object, missing_player_id, missing_game_id, missing_stake,
// bad_player_uuid, bad_game_uuid, player_id_not_string, stake_not_string, stake_negative,
// stake_zero, stake_three_decimals, stake_not_a_number, stake_exponent. Protobuf: bad_protobuf,
// missing_game, missing_player_id, bad_player_uuid, bad_game_uuid, stake_negative, stake_zero,
// stake_three_decimals, stake_not_a_number, stake_exponent.
const std::vector<std::string>& MalformedKinds(Format format);

// A malformed event of `kind` (one of MalformedKinds(format)), built around otherwise valid
// fields so that exactly one thing is wrong. kInvalidArgument for an unknown kind.
absl::StatusOr<Message> BuildMalformed(Format format, std::string_view kind,
                                       const std::string& event_id, const std::string& player_id,
                                       const std::string& game_id, int64_t stake_minor);

struct Options {
  int players = 200;
  int games = 10;
  int64_t stake_min_minor = 100;     // 1.00
  int64_t stake_max_minor = 10'000;  // 100.00
  double duplicate_ratio = 0;
  double malformed_ratio = 0;
  uint64_t seed = 1;
  Format format = Format::kJson;
};

// kInvalidArgument when a count is out of range, min > max, a ratio outside [0, 1] or
// duplicate_ratio + malformed_ratio > 1.
absl::Status Validate(const Options& options);

// Parses a stake bound in major units with up to two decimals ("0.01", "250", "12.5").
absl::StatusOr<int64_t> ParseMajor(const std::string& text);

// The fixed pools: the same seed and size always give the same UUIDs (v5 of "player/<seed>/<i>"
// and "game/<seed>/<i>" under a stakegen namespace), so repeated runs feed the same games.
std::vector<std::string> PlayerPool(uint64_t seed, int players);
std::vector<std::string> GamePool(uint64_t seed, int games);

// Produces the message sequence. Everything but the event ids is a function of (options, stream):
// which player, game and stake, which message is a duplicate of which, which is malformed.
// Event ids are fresh v4 UUIDs from the CSPRNG, so a rerun with the same seed is new traffic, not
// a replay that the writer would discard as duplicates.
class Generator {
 public:
  explicit Generator(const Options& options, uint64_t stream = 0);

  Message Next();

  const std::vector<std::string>& players() const { return players_; }
  const std::vector<std::string>& games() const { return games_; }
  Format format() const { return options_.format; }

 private:
  uint64_t Uniform(uint64_t n);  // in [0, n)
  double Unit();                 // in [0, 1)

  Options options_;
  std::vector<std::string> players_;
  std::vector<std::string> games_;
  std::mt19937_64 rng_;
  std::vector<Message> history_;  // recent valid messages, for duplicates
  size_t history_next_ = 0;
  size_t malformed_next_ = 0;
};

}  // namespace lottery::stakegen
