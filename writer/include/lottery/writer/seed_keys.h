// The writer's seed keys (docs/fairness.md, "Derived seeds"): the secrets from which every
// lottery's server seed is derived. Each lottery stores the id of the key it was seeded with
// (lottery.seed_key_id), never the seed; several keys are held so that lotteries seeded before a
// rotation are still drawn with their own key.
//
// Text format (file LOTTERY_SEED_KEY_FILE, or the variable LOTTERY_SEED_KEYS; never a flag, so a
// key never shows in `ps`): entries `<id>:<hex>` separated by newlines or commas; blank lines and
// lines starting with '#' are ignored. <id> is 1..64 of [A-Za-z0-9._-]; <hex> is at least 32
// bytes (64 hex digits). The LAST entry is the active key, used for new lotteries:
//
//   # rotated 2025-06-01; keep k1 until no lottery seeded with it is left open
//   k1:5b0c…(64+ hex digits)
//   k2:a9f3…
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/uuid.h"

namespace lottery::writer {

class SeedKeyring {
 public:
  // kInvalidArgument naming the entry (by position and id, never the key) on a malformed entry,
  // a key shorter than 32 bytes, a repeated id, or no entry at all.
  static absl::StatusOr<SeedKeyring> Parse(std::string_view text);

  // The id new lotteries are seeded with (the last entry).
  const std::string& active_id() const { return active_id_; }
  std::vector<std::string> ids() const;  // in file order
  bool Holds(std::string_view id) const { return keys_.count(std::string(id)) > 0; }

  // The seed of `lottery_id` under key `key_id` (domain::DeriveSeed). kFailedPrecondition when
  // this keyring does not hold `key_id`: the caller must not draw, and must not guess another key.
  absl::StatusOr<lottery::domain::Seed> SeedFor(std::string_view key_id,
                                                const lottery::domain::Uuid& lottery_id) const;

 private:
  std::map<std::string, std::string> keys_;  // id -> raw key bytes
  std::vector<std::string> order_;
  std::string active_id_;
};

// Loads the keyring from `file` if not empty, else from `env_text` (the value of
// LOTTERY_SEED_KEYS). kInvalidArgument when neither is given or the file cannot be read.
absl::StatusOr<std::shared_ptr<const SeedKeyring>> LoadSeedKeyring(const std::string& file,
                                                                   const std::string& env_text);

}  // namespace lottery::writer
