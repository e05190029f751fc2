// Where a writer starts reading a partition it was assigned, given the offset PostgreSQL holds
// for it and the broker's watermarks. Pure (unit-tested in start_offset_test.cc).
//
// PostgreSQL is the source of truth, except when its offset cannot exist on the broker:
//   - past the high watermark: the topic was recreated, or the broker lost records. Records
//     below the stored offset would be taken for ones already applied and skipped silently, so
//     the writer starts at the low watermark instead; stakes it already applied are recognised
//     by their event ids (harmless duplicates), new ones are applied;
//   - below the low watermark: retention deleted records that were never applied. They are gone;
//     the writer starts at the low watermark and says how many it never saw.
#pragma once

#include <cstdint>
#include <string>

namespace lottery::writer {

struct StartOffset {
  int64_t offset = 0;
  bool reset = false;  // differs from what PostgreSQL holds: store `offset` there first
  std::string why;     // for the log, when reset
};

StartOffset DecideStartOffset(int64_t stored, int64_t low, int64_t high);

}  // namespace lottery::writer
