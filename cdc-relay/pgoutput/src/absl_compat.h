// Debian's abseil is built with its own absl::string_view (not an alias of std::string_view),
// so absl::StrCat does not take std::string_view. Sv() bridges the two.
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace lottery::cdc::internal {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view StdSv(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace lottery::cdc::internal
