#include "lottery/domain/seed.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"

namespace lottery::domain {

absl::StatusOr<Seed> DeriveSeed(std::string_view key, const Uuid& lottery_id) {
  if (key.size() < kMinSeedKeyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("seed key: ", key.size(), " bytes, want at least ", kMinSeedKeyBytes));
  }
  std::string message(kSeedLabel);
  message.append(reinterpret_cast<const char*>(lottery_id.data()), lottery_id.size());
  Seed out;
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(),
           &len) == nullptr ||
      len != out.size()) {
    std::abort();  // allocation failure inside OpenSSL: a draw must not continue on garbage
  }
  return out;
}

}  // namespace lottery::domain
