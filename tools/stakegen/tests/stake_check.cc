#include "stake_check.h"

#include "lottery/domain/money.h"
#include "lottery/domain/uuid.h"
#include "lottery/v1/stake.pb.h"
#include "simdjson.h"

namespace lottery::stakegen::testing {
namespace {

absl::StatusOr<CheckedStake> CheckFields(CheckedStake s) {
  if (!domain::ParseUuid(s.player_id).ok()) return absl::InvalidArgumentError("bad playerId");
  if (!domain::ParseUuid(s.game_id).ok()) return absl::InvalidArgumentError("bad gameId");
  if (auto st = domain::ParseStakeMinor(s.stake); !st.ok()) return st.status();
  return s;
}

}  // namespace

absl::StatusOr<CheckedStake> CheckStake(const std::string& value,
                                        const std::optional<std::string>& content_type) {
  if (content_type && content_type->rfind("application/x-protobuf", 0) == 0) {
    lottery::v1::StakeCreated m;
    if (!m.ParseFromString(value)) return absl::InvalidArgumentError("bad protobuf");
    if (m.message().event_type() != "player.stakeCreated")
      return absl::InvalidArgumentError("eventType");
    if (!m.has_game()) return absl::InvalidArgumentError("missing game");
    return CheckFields({m.game().player_id(), m.game().game_id(), m.game().stake()});
  }
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(value)).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("bad json");
  }
  std::string_view event_type, player, game, stake;
  if (doc["message"]["eventType"].get_string().get(event_type) != simdjson::SUCCESS ||
      event_type != "player.stakeCreated") {
    return absl::InvalidArgumentError("eventType");
  }
  if (doc["game"]["playerId"].get_string().get(player) != simdjson::SUCCESS)
    return absl::InvalidArgumentError("playerId");
  if (doc["game"]["gameId"].get_string().get(game) != simdjson::SUCCESS)
    return absl::InvalidArgumentError("gameId");
  if (doc["game"]["stake"].get_string().get(stake) != simdjson::SUCCESS)
    return absl::InvalidArgumentError("stake");
  return CheckFields({std::string(player), std::string(game), std::string(stake)});
}

}  // namespace lottery::stakegen::testing
