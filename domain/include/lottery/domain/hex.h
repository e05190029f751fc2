// Lowercase hex for digests and seeds, the form docs/fairness.md and lottery-verify use.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lottery::domain {

std::string ToHex(std::string_view bytes);

template <size_t N>
std::string ToHex(const std::array<uint8_t, N>& bytes) {
  return ToHex(std::string_view(reinterpret_cast<const char*>(bytes.data()), N));
}

// Decodes hex of either case; kInvalidArgument on odd length or a non-hex character.
absl::StatusOr<std::string> FromHex(std::string_view hex);

// Decodes exactly N bytes; kInvalidArgument otherwise.
template <size_t N>
absl::StatusOr<std::array<uint8_t, N>> FromHexArray(std::string_view hex) {
  absl::StatusOr<std::string> bytes = FromHex(hex);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() != N) {
    return absl::InvalidArgumentError("hex: wrong length, want " + std::to_string(N) + " bytes");
  }
  std::array<uint8_t, N> out;
  for (size_t i = 0; i < N; ++i) out[i] = static_cast<uint8_t>((*bytes)[i]);
  return out;
}

}  // namespace lottery::domain
