// JSON for the records and reports this tree writes and reads (relay checkpoints, claims,
// snapshot and recovery progress, `status --json`, command summaries): nlohmann::json, with
// fields in insertion order, and typed reads that say what is wrong instead of throwing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace lottery::json {

using Json = nlohmann::ordered_json;

// `text` as a JSON object; InvalidArgument when it is not JSON or not an object.
inline absl::StatusOr<Json> ParseObject(std::string_view text) {
  Json j = Json::parse(text.begin(), text.end(), /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError("is not JSON");
  if (!j.is_object()) return absl::InvalidArgumentError("is not a JSON object");
  return j;
}

// Compact text. Bytes that are not UTF-8 (a header value from a foreign producer, say) become
// U+FFFD instead of throwing.
inline std::string Dump(const Json& j) {
  return j.dump(-1, ' ', /*ensure_ascii=*/false, Json::error_handler_t::replace);
}

// Whether `text` is any JSON value.
inline bool IsJson(std::string_view text) { return Json::accept(text.begin(), text.end()); }

// Reads `obj[key]` into `out` (std::string, int64_t, uint64_t or bool). Absent: NotFound when
// `required`, else `out` is left alone. Present with another type: InvalidArgument.
template <typename T>
absl::Status Get(const Json& obj, const char* key, T& out, bool required = false) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    return required ? absl::NotFoundError(absl::StrCat("has no ", key)) : absl::OkStatus();
  }
  const Json& v = *it;
  if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) return absl::InvalidArgumentError(absl::StrCat(key, " is not a string"));
    out = v.get<std::string>();
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) return absl::InvalidArgumentError(absl::StrCat(key, " is not a boolean"));
    out = v.get<bool>();
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    if (!v.is_number_unsigned()) {
      return absl::InvalidArgumentError(absl::StrCat(key, " is not a non-negative integer"));
    }
    out = v.get<uint64_t>();
  } else {
    static_assert(std::is_same_v<T, int64_t>, "Get: std::string, bool, int64_t or uint64_t");
    if (!v.is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(key, " is not an integer"));
    }
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return absl::InvalidArgumentError(absl::StrCat(key, " is out of range"));
    }
    out = v.get<int64_t>();
  }
  return absl::OkStatus();
}

}  // namespace lottery::json
