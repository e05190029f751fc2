// Lottery and entry lifecycles and the per-game rule.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/prize.h"

namespace lottery::domain {

inline constexpr int kDefaultPlayersNeeded = 10;

// in_waiting -> started -> finished. There is no cancel or redraw state.
enum class LotteryStatus { kInWaiting, kStarted, kFinished };
// in_waiting -> started -> finished | winner.
enum class EntryStatus { kInWaiting, kStarted, kFinished, kWinner };

std::string_view ToString(LotteryStatus status);
std::string_view ToString(EntryStatus status);
// "in_waiting" | "started" | "finished" (| "winner" for entries); else kInvalidArgument.
absl::StatusOr<LotteryStatus> ParseLotteryStatus(std::string_view text);
absl::StatusOr<EntryStatus> ParseEntryStatus(std::string_view text);

// OK for a legal transition; kFailedPrecondition otherwise, including X -> X (a repeated
// transition means the caller lost track of state, which must not pass silently).
absl::Status CheckTransition(LotteryStatus from, LotteryStatus to);
absl::Status CheckTransition(EntryStatus from, EntryStatus to);

struct GameRule {
  int players_needed = kDefaultPlayersNeeded;  // distinct players, >= 2
  DrawMode mode = DrawMode::kUniform;
  PrizePolicy policy = PrizePolicy::kWinnerStake;
  uint32_t bps = kDefaultPrizeBps;  // [0, 10000]

  // kInvalidArgument naming the bad field.
  absl::Status Validate() const;
};

}  // namespace lottery::domain
