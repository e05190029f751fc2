// PostgreSQL WAL positions (pg_lsn) and their text form "16/B374D848".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lottery::cdc {

using Lsn = uint64_t;

inline constexpr Lsn kInvalidLsn = 0;

// Parses PostgreSQL's text form: two hex numbers of 1..8 digits (either case) separated by
// '/', high 32 bits first. Anything else (empty parts, signs, spaces, 9+ digits) is
// kInvalidArgument.
absl::StatusOr<Lsn> ParseLsn(std::string_view text);

// Formats as PostgreSQL does (`%X/%X`): uppercase hex, no leading zeros. 0 -> "0/0".
std::string FormatLsn(Lsn lsn);

}  // namespace lottery::cdc
