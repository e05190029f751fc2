// The game rules of a batch, read and validated (see LoadGameRules in internal.h).
#include <map>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"

namespace lottery::writer::internal {

namespace d = lottery::domain;

namespace {

constexpr char kNilUuid[] = "00000000-0000-0000-0000-000000000000";

// One row: game_id, players_needed, draw_mode, prize_policy, prize_bps.
absl::StatusOr<d::GameRule> RuleOfRow(const PGresult* r, int i) {
  d::GameRule rule;
  int64_t bps = -1;
  const std::string players(pg::Value(r, i, 1)), bps_text(pg::Value(r, i, 4));
  if (!absl::SimpleAtoi(players, &rule.players_needed)) {
    return absl::InvalidArgumentError(absl::StrCat("players_needed '", players, "'"));
  }
  if (!absl::SimpleAtoi(bps_text, &bps) || bps < 0 || bps > static_cast<int64_t>(d::kMaxPrizeBps)) {
    return absl::InvalidArgumentError(absl::StrCat("prize_bps ", bps_text, " not in 0..10000"));
  }
  rule.bps = static_cast<uint32_t>(bps);
  ASSIGN_OR_RETURN(rule.mode, d::ParseDrawMode(pg::Value(r, i, 2)));
  ASSIGN_OR_RETURN(rule.policy, d::ParsePrizePolicy(pg::Value(r, i, 3)));
  RETURN_IF_ERROR(rule.Validate());
  return rule;
}

}  // namespace

absl::StatusOr<GameRules> LoadGameRules(PGconn* conn, const std::string& game_ids_array,
                                        int default_players_needed) {
  ASSIGN_OR_RETURN(
      pg::ResultPtr rows,
      pg::Exec(conn,
               "SELECT game_id, players_needed, draw_mode, prize_policy, prize_bps FROM game_rule "
               "WHERE game_id = ANY($1::uuid[]) OR game_id = $2::uuid",
               {pg::Param::Text(game_ids_array), pg::Param::Text(kNilUuid)}));
  GameRules rules;
  std::optional<d::GameRule> default_rule;
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    const std::string game(pg::Value(rows.get(), i, 0));
    absl::StatusOr<d::GameRule> rule = RuleOfRow(rows.get(), i);
    if (!rule.ok()) {
      // Stop and alert, never guess a rule: the batch fails and the writer turns not ready.
      return absl::FailedPreconditionError(
          absl::StrCat("game_rule ", game, " is invalid: ", rule.status().message()));
    }
    ASSIGN_OR_RETURN(d::Uuid id, d::ParseUuid(game));
    if (game == kNilUuid) {
      if (default_players_needed > 0) rule->players_needed = default_players_needed;
      default_rule = *rule;
    } else {
      rules.by_game[id] = *rule;
    }
  }
  if (!default_rule.has_value()) {
    return absl::FailedPreconditionError("game_rule has no default (nil UUID) row");
  }
  rules.default_rule = *default_rule;
  return rules;
}

}  // namespace lottery::writer::internal
