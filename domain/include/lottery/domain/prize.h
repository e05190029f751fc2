// How a game turns the stakes of a finished lottery into the winner's prize.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace lottery::domain {

inline constexpr uint32_t kDefaultPrizeBps = 3300;
inline constexpr uint32_t kMaxPrizeBps = 10000;

enum class PrizePolicy {
  kWinnerStake,  // floor(winner's total stake * bps / 10000)
  kPot,          // floor(sum of all stakes in the lottery * bps / 10000)
};

// "winner_stake" | "pot"; anything else kInvalidArgument.
absl::StatusOr<PrizePolicy> ParsePrizePolicy(std::string_view text);
std::string_view ToString(PrizePolicy policy);

// win_sum in minor units = floor(base * bps / 10000) where base is the policy's base. Exact for
// every input (128-bit intermediate), never above the base. kInvalidArgument when bps > 10000 or
// a total is negative. Only the policy's base is read; the other total may be anything >= 0.
absl::StatusOr<int64_t> ComputeWinSum(PrizePolicy policy, uint32_t bps, int64_t winner_total_minor,
                                      int64_t pot_total_minor);

}  // namespace lottery::domain
