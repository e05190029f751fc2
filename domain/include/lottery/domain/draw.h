// The draw "lottery-draw/v1". This is a public contract, specified byte for byte in
// docs/fairness.md, so that anyone can recompute a draw from the AwardCreated event alone.
// Changing anything observable here (byte layouts, labels, order, rejection rule) needs a new
// algorithm name, never an edit of v1.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/domain/uuid.h"

namespace lottery::domain {

using Seed = std::array<uint8_t, 32>;
using Digest = std::array<uint8_t, 32>;

inline constexpr std::string_view kDrawAlgorithm = "lottery-draw/v1";
inline constexpr std::string_view kCommitLabel = "lottery-commit/v1";

enum class DrawMode {
  kUniform,        // weight 1 per participant
  kStakeWeighted,  // weight = the participant's total stake in minor units
};

// "uniform" | "stake_weighted"; anything else kInvalidArgument.
absl::StatusOr<DrawMode> ParseDrawMode(std::string_view text);
std::string_view ToString(DrawMode mode);

// 32 bytes from the OpenSSL CSPRNG; kUnavailable if it fails (never a weaker fallback).
absl::StatusOr<Seed> GenerateSeed();

// SHA-256("lottery-commit/v1" || seed): published when the lottery is created.
Digest Commitment(const Seed& seed);

// One stake as it arrived, in arrival order.
struct Entry {
  Uuid player_id;
  int64_t stake_minor;
};

// A distinct player of a lottery with all their stakes merged.
struct Participant {
  Uuid player_id;
  int64_t total_stake_minor;
  uint64_t weight;

  friend bool operator==(const Participant&, const Participant&) = default;
};

// The weight a participant with this total stake gets under `mode`.
uint64_t WeightFor(DrawMode mode, int64_t total_stake_minor);

// Merges a player's stakes into one participant; participants come out in canonical order
// (by first entry). kInvalidArgument when a stake is <= 0 or a player's total overflows int64.
// An empty input gives an empty set (Draw rejects it).
absl::StatusOr<std::vector<Participant>> ParticipantsFromEntries(
    DrawMode mode, std::span<const Entry> entries_in_entry_order);

// SHA-256 over player_id (16 bytes) || uint64be(total_stake_minor) || uint64be(weight) for each
// participant in the given (canonical) order.
Digest EntriesDigest(std::span<const Participant> participants);

struct DrawResult {
  Digest entries_digest;
  uint64_t total_weight;  // T
  uint32_t counter;       // the accepted i
  uint64_t ticket;        // r = x mod T
  size_t winner_index;    // into the participant span
  uint64_t x;             // the accepted raw value (first 8 bytes of draw_hmac)
  Digest draw_hmac;       // h for the accepted i; binds every input, incl. the lottery id
};

// Runs the draw. Deterministic: the same inputs always give the same result, so a crash between
// "started" and "finished" is recovered by drawing again. kInvalidArgument on an empty set, a
// zero weight, a negative stake, a repeated player, or T >= 2^63.
absl::StatusOr<DrawResult> Draw(const Uuid& lottery_id, const Seed& seed,
                                std::span<const Participant> participants);

// HMAC-SHA256(seed, "lottery-draw/v1" || lottery_id || entries_digest || uint32be(i)).
Digest DrawHmac(const Seed& seed, const Uuid& lottery_id, const Digest& entries_digest, uint32_t i);

// The raw x of attempt i: the first 8 bytes of DrawHmac, big-endian. For --dump-raw.
uint64_t DrawX(const Seed& seed, const Uuid& lottery_id, const Digest& entries_digest, uint32_t i);

namespace draw_internal {

// The acceptance rule on a `width_bits`-bit model of x (64 in production; smaller widths let a
// test check the rule exhaustively): with M = 2^width_bits, accept x iff x < M - (M mod T), then
// ticket = x mod T. Requires 1 <= width_bits <= 64, 1 <= T, x < M.
struct Acceptance {
  bool accepted;
  uint64_t ticket;
};
Acceptance Accept(uint64_t x, uint64_t total_weight, unsigned width_bits = 64);

// The first index whose running weight sum exceeds `ticket`; requires ticket < sum of weights.
size_t WinnerIndex(std::span<const Participant> participants, uint64_t ticket);

}  // namespace draw_internal
}  // namespace lottery::domain
