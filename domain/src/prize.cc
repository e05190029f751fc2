#include "lottery/domain/prize.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "string_view_compat.h"

namespace lottery::domain {

absl::StatusOr<PrizePolicy> ParsePrizePolicy(std::string_view text) {
  if (text == "winner_stake") return PrizePolicy::kWinnerStake;
  if (text == "pot") return PrizePolicy::kPot;
  return absl::InvalidArgumentError(
      absl::StrCat("prize policy: unknown \"", internal::Sv(text), "\", want winner_stake|pot"));
}

std::string_view ToString(PrizePolicy policy) {
  switch (policy) {
    case PrizePolicy::kWinnerStake:
      return "winner_stake";
    case PrizePolicy::kPot:
      return "pot";
  }
  return "unknown";
}

absl::StatusOr<int64_t> ComputeWinSum(PrizePolicy policy, uint32_t bps, int64_t winner_total_minor,
                                      int64_t pot_total_minor) {
  if (bps > kMaxPrizeBps) {
    return absl::InvalidArgumentError(absl::StrCat("prize: bps ", bps, " above 10000"));
  }
  if (winner_total_minor < 0 || pot_total_minor < 0) {
    return absl::InvalidArgumentError("prize: negative stake total");
  }
  int64_t base = 0;
  switch (policy) {
    case PrizePolicy::kWinnerStake:
      base = winner_total_minor;
      break;
    case PrizePolicy::kPot:
      base = pot_total_minor;
      break;
    default:
      return absl::InvalidArgumentError("prize: unknown policy");
  }
  // base < 2^63 and bps <= 10^4 < 2^14, so the product fits in 77 bits; the quotient is <= base.
  const __int128 product = static_cast<__int128>(base) * bps;
  return static_cast<int64_t>(product / kMaxPrizeBps);
}

}  // namespace lottery::domain
