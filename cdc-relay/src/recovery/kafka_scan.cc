#include <chrono>

#include "absl/strings/str_cat.h"
#include "lottery/cdc/recovery/recover.h"
#include "lottery/common/status.h"

namespace lottery::cdc::recovery {

std::string ProgressKey(const std::string& slot) { return absl::StrCat("recovery/", slot); }

absl::StatusOr<absl::flat_hash_set<std::string>> PublishedIds(
    const kafka::Properties& props, const std::vector<std::string>& topics, absl::Time since,
    absl::Duration timeout) {
  absl::flat_hash_set<std::string> ids;
  kafka::ReadToEndOptions o{.client = props, .timeout = absl::ToChronoMilliseconds(timeout)};
  if (since != absl::InfinitePast()) o.since_unix_ms = absl::ToUnixMillis(since);
  RETURN_IF_ERROR(kafka::ReadToEnd(topics, o, [&](const rd_kafka_message_t& m) {
    std::optional<std::string> id;  // the last `id` header counts
    for (auto& [name, value] : kafka::MessageHeaders(&m)) {
      if (name == "id") id = std::move(value);
    }
    if (id) ids.insert(std::move(*id));
    return absl::OkStatus();
  }));
  return ids;
}

absl::StatusOr<CheckpointRecords> ReadCheckpointRecords(const kafka::Properties& props,
                                                        const std::string& topic,
                                                        const std::string& slot,
                                                        absl::Duration timeout) {
  const std::string progress_key = ProgressKey(slot);
  ASSIGN_OR_RETURN(auto values, ReadLatestValues(props, topic, slot, {slot, progress_key},
                                                 absl::ToChronoMilliseconds(timeout)));
  CheckpointRecords latest;
  if (auto it = values.find(progress_key); it != values.end()) {
    latest.recovery_progress = std::move(it->second);
  }
  if (auto it = values.find(slot); it != values.end()) {
    ASSIGN_OR_RETURN(latest.checkpoint, DecodeCheckpoint(it->second));
  }
  return latest;
}

}  // namespace lottery::cdc::recovery
