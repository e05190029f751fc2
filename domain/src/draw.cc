#include "lottery/domain/draw.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <limits>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "string_view_compat.h"

namespace lottery::domain {
namespace {

using internal::Sv;

constexpr uint64_t kMaxTotalWeight = uint64_t{1} << 63;  // T must stay below this

void AppendBe64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

void AppendBe32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
}

template <size_t N>
void AppendBytes(std::string& out, const std::array<uint8_t, N>& bytes) {
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

Digest Sha256(std::string_view data) {
  Digest out;
  unsigned int len = 0;
  // EVP_Digest fails only when OpenSSL cannot allocate; a draw must not continue on garbage.
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != out.size()) {
    std::abort();
  }
  return out;
}

}  // namespace

absl::StatusOr<DrawMode> ParseDrawMode(std::string_view text) {
  if (text == "uniform") return DrawMode::kUniform;
  if (text == "stake_weighted") return DrawMode::kStakeWeighted;
  return absl::InvalidArgumentError(
      absl::StrCat("draw mode: unknown \"", Sv(text), "\", want uniform|stake_weighted"));
}

std::string_view ToString(DrawMode mode) {
  switch (mode) {
    case DrawMode::kUniform:
      return "uniform";
    case DrawMode::kStakeWeighted:
      return "stake_weighted";
  }
  return "unknown";
}

absl::StatusOr<Seed> GenerateSeed() {
  Seed seed;
  if (RAND_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    return absl::UnavailableError("draw: RAND_bytes failed to produce a server seed");
  }
  return seed;
}

Digest Commitment(const Seed& seed) {
  std::string message(kCommitLabel);
  AppendBytes(message, seed);
  return Sha256(message);
}

uint64_t WeightFor(DrawMode mode, int64_t total_stake_minor) {
  return mode == DrawMode::kStakeWeighted ? static_cast<uint64_t>(total_stake_minor) : 1;
}

absl::StatusOr<std::vector<Participant>> ParticipantsFromEntries(
    DrawMode mode, std::span<const Entry> entries_in_entry_order) {
  std::vector<Participant> out;
  absl::flat_hash_map<Uuid, size_t> index_of;
  for (size_t i = 0; i < entries_in_entry_order.size(); ++i) {
    const Entry& entry = entries_in_entry_order[i];
    if (entry.stake_minor <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("entries[", i, "]: stake ", entry.stake_minor, " is not positive"));
    }
    auto [it, inserted] = index_of.try_emplace(entry.player_id, out.size());
    if (inserted) {
      out.push_back(Participant{entry.player_id, entry.stake_minor, 0});
      continue;
    }
    Participant& p = out[it->second];
    if (__builtin_add_overflow(p.total_stake_minor, entry.stake_minor, &p.total_stake_minor)) {
      return absl::InvalidArgumentError(absl::StrCat("entries[", i, "]: total stake of player ",
                                                     FormatUuid(entry.player_id),
                                                     " overflows int64"));
    }
  }
  for (Participant& p : out) p.weight = WeightFor(mode, p.total_stake_minor);
  return out;
}

Digest EntriesDigest(std::span<const Participant> participants) {
  std::string message;
  message.reserve(participants.size() * 32);
  for (const Participant& p : participants) {
    AppendBytes(message, p.player_id);
    AppendBe64(message, static_cast<uint64_t>(p.total_stake_minor));
    AppendBe64(message, p.weight);
  }
  return Sha256(message);
}

Digest DrawHmac(const Seed& seed, const Uuid& lottery_id, const Digest& entries_digest,
                uint32_t i) {
  std::string message(kDrawAlgorithm);
  AppendBytes(message, lottery_id);
  AppendBytes(message, entries_digest);
  AppendBe32(message, i);
  Digest out;
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), seed.data(), static_cast<int>(seed.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
           &len) == nullptr ||
      len != out.size()) {
    std::abort();  // allocation failure inside OpenSSL; see Sha256
  }
  return out;
}

uint64_t DrawX(const Seed& seed, const Uuid& lottery_id, const Digest& entries_digest, uint32_t i) {
  const Digest h = DrawHmac(seed, lottery_id, entries_digest, i);
  uint64_t x = 0;
  for (int k = 0; k < 8; ++k) x = (x << 8) | h[k];
  return x;
}

namespace draw_internal {

Acceptance Accept(uint64_t x, uint64_t total_weight, unsigned width_bits) {
  // rem = M mod T. For M = 2^64, (2^64 - T) mod T == 2^64 mod T, and 2^64 - T is what unsigned
  // negation computes. Accept x < M - rem; when rem == 0 every x is accepted.
  uint64_t rem;
  uint64_t mask;
  if (width_bits >= 64) {
    rem = (0 - total_weight) % total_weight;
    mask = std::numeric_limits<uint64_t>::max();
  } else {
    const uint64_t m = uint64_t{1} << width_bits;
    rem = m % total_weight;
    mask = m - 1;
  }
  // M - rem computed as (M - 1) - rem + 1 so that it never overflows; x <= (M-1) - rem.
  const bool accepted = rem == 0 || x <= mask - rem;
  return Acceptance{accepted, accepted ? x % total_weight : 0};
}

size_t WinnerIndex(std::span<const Participant> participants, uint64_t ticket) {
  uint64_t running = 0;
  for (size_t i = 0; i < participants.size(); ++i) {
    running += participants[i].weight;  // cannot overflow: Draw checked T < 2^63
    if (running > ticket) return i;
  }
  return participants.size();  // unreachable when ticket < T
}

}  // namespace draw_internal

absl::StatusOr<DrawResult> Draw(const Uuid& lottery_id, const Seed& seed,
                                std::span<const Participant> participants) {
  if (participants.empty()) return absl::InvalidArgumentError("draw: no participants");
  uint64_t total = 0;
  absl::flat_hash_set<Uuid> seen;
  for (size_t i = 0; i < participants.size(); ++i) {
    const Participant& p = participants[i];
    if (p.weight == 0) {
      return absl::InvalidArgumentError(absl::StrCat("draw: participants[", i, "] weight 0"));
    }
    if (p.total_stake_minor < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("draw: participants[", i, "] negative total stake"));
    }
    if (!seen.insert(p.player_id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("draw: participants[", i, "] repeats player ", FormatUuid(p.player_id)));
    }
    if (p.weight >= kMaxTotalWeight || total >= kMaxTotalWeight - p.weight) {
      return absl::InvalidArgumentError("draw: total weight T is not below 2^63");
    }
    total += p.weight;
  }

  DrawResult result{};
  result.entries_digest = EntriesDigest(participants);
  result.total_weight = total;
  // Each attempt is rejected with probability (2^64 mod T) / 2^64 < 1/2, so 2^32 attempts never
  // happen; the bound exists only because the counter is encoded in 32 bits.
  for (uint64_t i = 0; i <= std::numeric_limits<uint32_t>::max(); ++i) {
    const auto counter = static_cast<uint32_t>(i);
    const Digest h = DrawHmac(seed, lottery_id, result.entries_digest, counter);
    uint64_t x = 0;
    for (int k = 0; k < 8; ++k) x = (x << 8) | h[k];
    const draw_internal::Acceptance a = draw_internal::Accept(x, total);
    if (!a.accepted) continue;
    result.counter = counter;
    result.x = x;
    result.draw_hmac = h;
    result.ticket = a.ticket;
    result.winner_index = draw_internal::WinnerIndex(participants, a.ticket);
    return result;
  }
  return absl::InternalError("draw: counter space exhausted");
}

}  // namespace lottery::domain
