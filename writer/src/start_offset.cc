#include "lottery/writer/start_offset.h"

#include "absl/strings/str_cat.h"

namespace lottery::writer {

StartOffset DecideStartOffset(int64_t stored, int64_t low, int64_t high) {
  if (low < 0 || high < low) return {stored, false, ""};  // watermarks unknown: trust PostgreSQL
  if (stored > high) {
    return {low, true,
            absl::StrCat("PostgreSQL holds offset ", stored, ", past the partition's end ", high,
                         " (the topic was recreated, or the broker lost records): reading from ",
                         low, "; stakes already applied are recognised by their event ids")};
  }
  if (stored < low) {
    return {low, true,
            absl::StrCat("PostgreSQL holds offset ", stored, ", before the partition's start ", low,
                         ": retention deleted ", low - stored,
                         " record(s) this consumer group never applied; they are lost to it")};
  }
  return {stored, false, ""};
}

}  // namespace lottery::writer
