// Which relay process holds a slot, so that a relay whose Kafka producer failed can tell the two
// causes apart: another relay took the slot over (it fenced this one: stop), or the broker ended
// this producer on its own (a transaction that outlived transaction.timeout.ms while the broker
// was unreachable: start a new producer and go on).
//
// Each relay, right after its producer's init_transactions (which fences every older producer of
// the slot), commits a claim under ClaimKey(slot) on the checkpoint topic. The latest claim
// therefore names the relay that fenced last. Pure: encoding and the decision only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lottery::cdc {

struct RelayClaim {
  std::string instance;  // random per process (UUID text)
  std::string host;
  int64_t pid = 0;
  int64_t claimed_at_unix_ms = 0;

  // "instance 0b1c… (pid 123 on host-a, claimed 2026-12-02T14:03:11Z)"
  std::string Describe() const;
  friend bool operator==(const RelayClaim&, const RelayClaim&) = default;
};

// "<slot>.claim"
std::string ClaimKey(const std::string& slot);

// {"instance":"…","host":"…","pid":123,"claimed_at_unix_ms":…}
std::string EncodeClaim(const RelayClaim& claim);
// kDataLoss when the value is not a claim.
absl::StatusOr<RelayClaim> DecodeClaim(std::string_view json);

// This process's claim: a fresh random instance id, the host name, the pid, now.
RelayClaim NewClaim();

enum class ProducerFailure {
  kFencedByAnotherRelay,  // a newer claim of another instance: stop, naming it
  kRestartProducer,       // the latest claim is ours (or there is none): a new producer is safe
};

// What a relay holding `mine` does when its producer failed fatally and the checkpoint topic's
// latest claim is `latest`.
ProducerFailure ClassifyProducerFailure(const RelayClaim& mine,
                                        const std::optional<RelayClaim>& latest);

}  // namespace lottery::cdc
