#include "lottery/cdc/claim.h"

#include <unistd.h>

#include <array>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/common/json.h"

namespace lottery::cdc {

std::string RelayClaim::Describe() const {
  return absl::StrCat(
      "instance ", instance, " (pid ", pid, " on ", host, ", claimed ",
      absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(claimed_at_unix_ms),
                       absl::UTCTimeZone()),
      ")");
}

std::string ClaimKey(const std::string& slot) { return absl::StrCat(slot, ".claim"); }

std::string EncodeClaim(const RelayClaim& c) {
  return json::Dump(json::Json{{"instance", c.instance},
                               {"host", c.host},
                               {"pid", c.pid},
                               {"claimed_at_unix_ms", c.claimed_at_unix_ms}});
}

absl::StatusOr<RelayClaim> DecodeClaim(std::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("claim record ", why, ": ", std::string(text)));
  };
  auto obj = json::ParseObject(text);
  if (!obj.ok()) return bad(obj.status().message());
  RelayClaim c;
  for (const absl::Status& st :
       {json::Get(*obj, "instance", c.instance, true), json::Get(*obj, "host", c.host, true),
        json::Get(*obj, "pid", c.pid, true),
        json::Get(*obj, "claimed_at_unix_ms", c.claimed_at_unix_ms, true)}) {
    if (!st.ok()) return bad(st.message());
  }
  if (c.instance.empty()) return bad("has no instance");
  return c;
}

RelayClaim NewClaim() {
  std::random_device rd;
  std::array<uint32_t, 4> words{};
  for (uint32_t& w : words) w = rd();
  RelayClaim c;
  c.instance = absl::StrFormat("%08x-%04x-%04x-%04x-%04x%08x", words[0], words[1] >> 16,
                               (words[1] & 0x0fff) | 0x4000, (words[2] >> 16 & 0x3fff) | 0x8000,
                               words[2] & 0xffff, words[3]);
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) == 0) c.host = host.data();
  if (c.host.empty()) c.host = "unknown-host";
  c.pid = getpid();
  c.claimed_at_unix_ms = absl::ToUnixMillis(absl::Now());
  return c;
}

ProducerFailure ClassifyProducerFailure(const RelayClaim& mine,
                                        const std::optional<RelayClaim>& latest) {
  if (latest && latest->instance != mine.instance) return ProducerFailure::kFencedByAnotherRelay;
  return ProducerFailure::kRestartProducer;
}

}  // namespace lottery::cdc
