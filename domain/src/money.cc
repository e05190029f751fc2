#include "lottery/domain/money.h"

#include <cstdlib>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "string_view_compat.h"

namespace lottery::domain {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

absl::Status Reject(std::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("stake: ", internal::Sv(reason)));
}

}  // namespace

absl::StatusOr<int64_t> ParseStakeMinor(std::string_view s, int64_t max_major) {
  if (max_major < 1 || max_major > std::numeric_limits<int64_t>::max() / 100) {
    return Reject(absl::StrCat("invalid maximum ", max_major));
  }
  // The checks run from the most to the least specific so that the reason names what the
  // sender got wrong ("-5" is "negative", not "non-digit character").
  if (s.empty()) return Reject("empty");
  if (IsSpace(s.front()) || IsSpace(s.back())) return Reject("surrounding whitespace");
  if (s.front() == '-') return Reject("negative");
  if (s.front() == '+') return Reject("sign not allowed");
  size_t dots = 0;
  for (char c : s) {
    if (c == 'e' || c == 'E') return Reject("exponent not allowed");
  }
  for (char c : s) {
    if (c == '.') {
      ++dots;
    } else if (!IsDigit(c)) {
      return Reject("non-digit character");
    }
  }
  if (dots > 1) return Reject("more than one decimal point");
  const size_t dot = s.find('.');
  const std::string_view int_part = s.substr(0, dot);
  const std::string_view frac_part =
      dot == std::string_view::npos ? std::string_view() : s.substr(dot + 1);
  if (int_part.empty()) return Reject("no digits before the decimal point");
  if (dot != std::string_view::npos && frac_part.empty()) {
    return Reject("no digits after the decimal point");
  }
  if (frac_part.size() > 2) return Reject("more than two decimal places");

  const int64_t max_minor = max_major * 100;
  const std::string above_max = absl::StrCat("above the maximum of ", max_major, " major units");
  // Accumulate in minor units and stop as soon as the maximum is passed, so that no input,
  // however long, can overflow.
  int64_t major = 0;
  for (char c : int_part) {
    major = major * 10 + (c - '0');
    if (major > max_major) return Reject(above_max);
  }
  int64_t minor = major * 100;
  if (!frac_part.empty()) {
    minor += (frac_part[0] - '0') * 10;
    if (frac_part.size() == 2) minor += frac_part[1] - '0';
  }
  if (minor == 0) return Reject("zero");
  if (minor > max_minor) return Reject(above_max);
  return minor;
}

std::string FormatMinor(int64_t minor) {
  // Magnitude in unsigned arithmetic so that INT64_MIN formats correctly.
  const bool negative = minor < 0;
  const uint64_t magnitude =
      negative ? ~static_cast<uint64_t>(minor) + 1 : static_cast<uint64_t>(minor);
  return absl::StrFormat("%s%d.%02d", negative ? "-" : "", magnitude / 100, magnitude % 100);
}

}  // namespace lottery::domain
