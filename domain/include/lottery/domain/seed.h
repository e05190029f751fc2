// Derived server seeds "lottery-seed/v1" (docs/fairness.md, "Derived seeds"): a lottery's seed
// is never stored; the writer derives it from a secret key and the lottery id when it needs it
// (to publish the commitment, to draw) and reveals it only in the AwardCreated event.
#pragma once

#include <cstddef>
#include <string_view>

#include "absl/status/statusor.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/uuid.h"

namespace lottery::domain {

inline constexpr std::string_view kSeedLabel = "lottery-seed/v1";
// A seed key shorter than SHA-256's output would be the weakest link of the draw.
inline constexpr size_t kMinSeedKeyBytes = 32;

// server_seed = HMAC-SHA256(key, "lottery-seed/v1" || lottery_id), the lottery id as its 16 bytes
// in RFC 4122 order (a 31-byte message). kInvalidArgument when the key is shorter than
// kMinSeedKeyBytes. Pure: the same key and id always give the same seed, so a lottery left
// started by a crash is drawn with exactly the seed its commitment was computed from.
absl::StatusOr<Seed> DeriveSeed(std::string_view key, const Uuid& lottery_id);

}  // namespace lottery::domain
