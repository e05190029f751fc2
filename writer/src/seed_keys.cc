#include "lottery/writer/seed_keys.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lottery/domain/hex.h"
#include "lottery/domain/seed.h"

namespace lottery::writer {

namespace d = lottery::domain;

namespace {

bool ValidId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-')
      return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<SeedKeyring> SeedKeyring::Parse(std::string_view text) {
  SeedKeyring ring;
  int position = 0;
  // absl::string_view is not std::string_view in this Abseil build.
  const absl::string_view all(text.data(), text.size());
  for (absl::string_view raw : absl::StrSplit(all, absl::ByAnyChar("\n,"))) {
    const absl::string_view entry = absl::StripAsciiWhitespace(raw);
    if (entry.empty() || entry.front() == '#') continue;
    ++position;
    const size_t colon = entry.find(':');
    // Messages name the entry by position and id only: the key itself is never echoed.
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("seed keys: entry ", position, " is not <id>:<hex>"));
    }
    const std::string id(absl::StripAsciiWhitespace(entry.substr(0, colon)));
    if (!ValidId(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("seed keys: entry ", position, ": the id must be 1..64 of [A-Za-z0-9._-]"));
    }
    const absl::string_view hex = absl::StripAsciiWhitespace(entry.substr(colon + 1));
    absl::StatusOr<std::string> key = d::FromHex(std::string_view(hex.data(), hex.size()));
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("seed keys: key '", id, "' is not hex"));
    }
    if (key->size() < d::kMinSeedKeyBytes) {
      return absl::InvalidArgumentError(absl::StrCat("seed keys: key '", id, "' has ", key->size(),
                                                     " bytes, want at least ",
                                                     d::kMinSeedKeyBytes));
    }
    if (!ring.keys_.emplace(id, std::move(*key)).second) {
      return absl::InvalidArgumentError(absl::StrCat("seed keys: id '", id, "' appears twice"));
    }
    ring.order_.push_back(id);
    ring.active_id_ = id;
  }
  if (ring.keys_.empty()) return absl::InvalidArgumentError("seed keys: no key given");
  return ring;
}

std::vector<std::string> SeedKeyring::ids() const { return order_; }

absl::StatusOr<d::Seed> SeedKeyring::SeedFor(std::string_view key_id,
                                             const d::Uuid& lottery_id) const {
  auto it = keys_.find(std::string(key_id));
  if (it == keys_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "lottery ", d::FormatUuid(lottery_id), " was seeded with key id '", std::string(key_id),
        "', which this writer does not hold (it holds ", absl::StrJoin(order_, ","),
        "); refusing to draw or extend it: add that key to LOTTERY_SEED_KEY_FILE"));
  }
  return d::DeriveSeed(it->second, lottery_id);
}

absl::StatusOr<std::shared_ptr<const SeedKeyring>> LoadSeedKeyring(const std::string& file,
                                                                   const std::string& env_text) {
  std::string text;
  if (!file.empty()) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      return absl::InvalidArgumentError(absl::StrCat("--seed-key-file: cannot read '", file, "'"));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  } else if (!env_text.empty()) {
    text = env_text;
  } else {
    return absl::InvalidArgumentError(
        "no seed key: set LOTTERY_SEED_KEY_FILE (--seed-key-file) or LOTTERY_SEED_KEYS "
        "(docs/fairness.md, 'Derived seeds')");
  }
  absl::StatusOr<SeedKeyring> ring = SeedKeyring::Parse(text);
  if (!ring.ok()) return ring.status();
  return std::make_shared<const SeedKeyring>(std::move(*ring));
}

}  // namespace lottery::writer
