// lottery-watch: the demo's award viewer. A read_committed consumer of `lottery.v1.award` that
// decodes each AwardCreated, re-checks its draw proof with lottery::domain::VerifyAward, and
// prints one line per award.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lottery/common/kafka.h"
#include "lottery/v1/award.pb.h"

namespace lottery::watch {

inline constexpr std::string_view kDefaultTopic = "lottery.v1.award";
inline constexpr std::string_view kAwardMessageType = "lotteryAwardCreated";

using Headers = std::vector<std::pair<std::string, std::string>>;

// Binary protobuf when the content-type is absent or starts with "application/x-protobuf";
// protobuf's JSON mapping when it starts with "application/json". kInvalidArgument when the value
// does not parse or the content-type is another one.
absl::StatusOr<lottery::v1::AwardCreated> DecodeAward(
    const std::string& value, const std::optional<std::string>& content_type);

// What a record turned out to be.
enum class Outcome { kVerified, kFailed, kUndecodable, kSkipped };

struct RecordView {
  int partition = 0;
  int64_t offset = 0;
  std::string value;
  Headers headers;
  std::optional<std::string> Header(std::string_view name) const;
};

// Decodes and verifies one record and formats its line, e.g.
//   award lottery=<uuid> game=<uuid> winner=<uuid> win_sum=4073.85 participants=10 proof=verified
//     [id=<uuid> messageType=lotteryAwardCreated p1@42]
// (one line). A failed check prints `proof=FAILED (<first mismatching field ...>)`. A record whose
// messageType header names another event is kSkipped.
std::pair<Outcome, std::string> Inspect(const RecordView& record);

struct Options {
  std::string bootstrap;
  std::string topic = std::string(kDefaultTopic);
  bool from_beginning = false;  // else: records produced since the watcher started
  int64_t max = 0;              // stop after this many awards (verified + failed), 0 = no limit
  int64_t timeout_ms = 0;       // stop after this long, 0 = no limit
  kafka::Properties props;      // pass-through librdkafka properties
};

struct Stats {
  int64_t awards = 0;  // verified + failed
  int64_t verified = 0;
  int64_t failed = 0;
  int64_t undecodable = 0;
  int64_t skipped = 0;
  bool reached_max = false;
};

// Consumes until `max`, `timeout_ms` or `stop()`; writes one line per record to `out` (flushed
// per line). Waits for the topic to appear and picks up new partitions. Without from_beginning it
// starts at the first record whose timestamp is not before the call (offsets_for_times), so an
// award produced just after start is not missed even if the topic did not exist yet.
// kUnavailable / kInvalidArgument for client errors.
absl::StatusOr<Stats> Watch(const Options& options, std::ostream& out,
                            const std::function<bool()>& stop = {});

}  // namespace lottery::watch
