#include "lottery/cdc/claim.h"

#include <unistd.h>

#include <array>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lottery/cdc/checkpoint.h"
#include "simdjson.h"

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
  return absl::StrCat("{\"instance\":", JsonQuote(c.instance), ",\"host\":", JsonQuote(c.host),
                      ",\"pid\":", c.pid, ",\"claimed_at_unix_ms\":", c.claimed_at_unix_ms, "}");
}

absl::StatusOr<RelayClaim> DecodeClaim(std::string_view json) {
  auto bad = [&](const char* why) {
    return absl::DataLossError(absl::StrCat("claim record ", why, ": ", std::string(json)));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc)) return bad("is not JSON");
  simdjson::dom::object obj;
  if (doc.get_object().get(obj)) return bad("is not a JSON object");
  RelayClaim c;
  std::string_view sv;
  if (obj["instance"].get_string().get(sv) || sv.empty()) return bad("has no instance");
  c.instance = std::string(sv);
  if (obj["host"].get_string().get(sv)) return bad("has no host");
  c.host = std::string(sv);
  if (obj["pid"].get_int64().get(c.pid)) return bad("has no pid");
  if (obj["claimed_at_unix_ms"].get_int64().get(c.claimed_at_unix_ms)) {
    return bad("has no claimed_at_unix_ms");
  }
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
