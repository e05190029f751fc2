#include "lottery/domain/uuid.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lottery/common/status.h"

namespace lottery::domain {
namespace {

constexpr size_t kCanonicalLength = 36;

bool IsHyphenPosition(size_t i) { return i == 8 || i == 13 || i == 18 || i == 23; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

absl::StatusOr<Uuid> ParseUuid(std::string_view text) {
  if (text.size() != kCanonicalLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("uuid: length ", text.size(), ", want 36 (8-4-4-4-12 hex)"));
  }
  Uuid out{};
  size_t nibble = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (IsHyphenPosition(i)) {
      if (text[i] != '-') {
        return absl::InvalidArgumentError(absl::StrCat("uuid: expected '-' at offset ", i));
      }
      continue;
    }
    const int v = HexValue(text[i]);
    if (v < 0) {
      return absl::InvalidArgumentError(absl::StrCat("uuid: non-hex character at offset ", i));
    }
    out[nibble / 2] = static_cast<uint8_t>(out[nibble / 2] | (nibble % 2 == 0 ? v << 4 : v));
    ++nibble;
  }
  return out;
}

std::string FormatUuid(const Uuid& uuid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(kCanonicalLength);
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[uuid[i] >> 4]);
    out.push_back(kHex[uuid[i] & 0x0f]);
  }
  return out;
}

bool IsCanonicalUuid(std::string_view text) {
  absl::StatusOr<Uuid> parsed = ParseUuid(text);
  return parsed.ok() && FormatUuid(*parsed) == text;
}

absl::StatusOr<Uuid> TryNewRandomUuid() {
  Uuid out;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
    return absl::UnavailableError("uuid: RAND_bytes failed");
  }
  out[6] = static_cast<uint8_t>((out[6] & 0x0f) | 0x40);  // version 4
  out[8] = static_cast<uint8_t>((out[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return out;
}

Uuid NewRandomUuid() {
  absl::StatusOr<Uuid> uuid = TryNewRandomUuid();
  if (!uuid.ok()) std::abort();
  return *uuid;
}

absl::StatusOr<Uuid> TryNewTimeOrderedUuid(absl::Time now) {
  ASSIGN_OR_RETURN(Uuid out, TryNewRandomUuid());
  const int64_t ms = std::max<int64_t>(0, absl::ToUnixMillis(now));
  for (int i = 0; i < 6; ++i) out[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  out[6] = static_cast<uint8_t>((out[6] & 0x0f) | 0x70);  // version 7
  return out;                                             // the variant bits are already RFC 4122's
}

Uuid NewTimeOrderedUuid(absl::Time now) {
  absl::StatusOr<Uuid> uuid = TryNewTimeOrderedUuid(now);
  if (!uuid.ok()) std::abort();
  return *uuid;
}

Uuid UuidV5(const Uuid& name_space, std::string_view name) {
  unsigned char sha1[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  // These calls fail only on allocation failure, after which nothing sensible can continue.
  if (ctx == nullptr || EVP_DigestInit_ex(ctx, EVP_sha1(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, name_space.data(), name_space.size()) != 1 ||
      EVP_DigestUpdate(ctx, name.data(), name.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, sha1, &len) != 1) {
    std::abort();
  }
  EVP_MD_CTX_free(ctx);
  Uuid out;
  for (size_t i = 0; i < out.size(); ++i) out[i] = sha1[i];
  out[6] = static_cast<uint8_t>((out[6] & 0x0f) | 0x50);  // version 5
  out[8] = static_cast<uint8_t>((out[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return out;
}

}  // namespace lottery::domain
