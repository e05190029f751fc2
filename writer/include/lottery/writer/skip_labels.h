// The label set of lottery_writer_skipped_by_type_total{event_type="..."}: a producer that
// invents event types must not grow /metrics (and Prometheus' series) without bound. Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_set.h"

namespace lottery::writer {

class SkipLabels {
 public:
  static constexpr size_t kDefaultMaxTypes = 20;
  static constexpr std::string_view kOther = "other";
  explicit SkipLabels(size_t max_types = kDefaultMaxTypes) : max_types_(max_types) {}

  // The label value for a skipped record of `event_type` (already sanitized, stake_parser.h):
  // the type itself (cut at 64 characters, `"` escaped for the exposition format) for the first
  // `max_types` distinct types, "other" for every type seen later.
  std::string LabelFor(std::string_view event_type);

 private:
  size_t max_types_;
  absl::flat_hash_set<std::string> known_;
};

}  // namespace lottery::writer
