// Debian 12's Abseil is built without ABSL_USES_STD_STRING_VIEW, so absl::string_view is a
// distinct type: these convert at the boundary between our std::string_view API and StrCat /
// Status::message().
#pragma once

#include <string_view>

#include "absl/strings/string_view.h"

namespace lottery::domain::internal {

inline absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }
inline std::string_view Std(absl::string_view s) { return std::string_view(s.data(), s.size()); }

}  // namespace lottery::domain::internal
