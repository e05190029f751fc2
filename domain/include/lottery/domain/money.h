// Money is int64 minor units (cents) everywhere; no floating point touches it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lottery::domain {

// Default upper bound of one stake, in major units.
inline constexpr int64_t kDefaultMaxStakeMajor = 1'000'000'000;

// Parses the game service's stake, a decimal string in major units matching
// ^[0-9]+(\.[0-9]{1,2})?$, into minor units: "12345" -> 1234500, "0.5" -> 50.
// Returns kInvalidArgument whose message is the reason, always starting "stake: ": empty,
// surrounding whitespace, negative, sign, exponent, non-digit character, more than one decimal
// point, no digits before/after the decimal point, more than two decimal places, zero, above
// the maximum. `max_major` must be in [1, INT64_MAX / 100], else kInvalidArgument.
absl::StatusOr<int64_t> ParseStakeMinor(std::string_view s,
                                        int64_t max_major = kDefaultMaxStakeMajor);

// Exact decimal with two places: 407385 -> "4073.85", 50 -> "0.50", -5 -> "-0.05".
std::string FormatMinor(int64_t minor);

}  // namespace lottery::domain
