#include "lottery/cdc/checkpoint.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lottery/common/json.h"
#include "lottery/common/status.h"

namespace lottery::cdc {

std::string EncodeCheckpoint(const Checkpoint& c) {
  return json::Dump(json::Json{{"slot", c.slot},
                               {"lsn", FormatLsn(c.lsn)},
                               {"commit_time_us", c.commit_time},
                               {"system_id", c.system_id},
                               {"database", c.database},
                               {"events", c.events},
                               {"written_at_unix_ms", c.written_at_unix_ms},
                               {"dead_lettered", c.dead_lettered},
                               {"last_dead_letter", c.last_dead_letter}});
}

absl::StatusOr<Checkpoint> DecodeCheckpoint(std::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("checkpoint record ", why, ": ", std::string(text)));
  };
  auto obj = json::ParseObject(text);
  if (!obj.ok()) return bad(obj.status().message());
  Checkpoint c;
  std::string lsn;
  uint64_t events = 0, dead_lettered = 0;
  for (const absl::Status& st :
       {json::Get(*obj, "slot", c.slot), json::Get(*obj, "lsn", lsn, true),
        json::Get(*obj, "commit_time_us", c.commit_time), json::Get(*obj, "system_id", c.system_id),
        json::Get(*obj, "database", c.database), json::Get(*obj, "events", events),
        json::Get(*obj, "written_at_unix_ms", c.written_at_unix_ms),
        json::Get(*obj, "dead_lettered", dead_lettered),
        json::Get(*obj, "last_dead_letter", c.last_dead_letter)}) {
    if (!st.ok()) return bad(st.message());
  }
  auto parsed = ParseLsn(lsn);
  if (!parsed.ok()) return bad("lsn does not parse");
  c.lsn = *parsed;
  c.events = events;
  c.dead_lettered = dead_lettered;
  return c;
}

absl::Status EnsureCheckpointTopic(const std::string& bootstrap, const std::string& topic) {
  return kafka::CreateTopics(bootstrap, {{topic, 1}}, {{"cleanup.policy", "compact"}});
}

absl::StatusOr<std::optional<Checkpoint>> ReadCheckpoint(const kafka::Properties& client_props,
                                                         const std::string& topic,
                                                         const std::string& slot,
                                                         std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   ReadLatestValue(client_props, topic, slot, slot, timeout));
  if (!value) return std::nullopt;
  ASSIGN_OR_RETURN(Checkpoint c, DecodeCheckpoint(*value));
  return c;
}

absl::StatusOr<std::map<std::string, std::string>> ReadLatestValues(
    const kafka::Properties& client_props, const std::string& topic, const std::string& slot,
    const std::vector<std::string>& keys, std::chrono::milliseconds timeout) {
  std::map<std::string, std::string> latest;
  kafka::ReadToEndOptions o{.client = client_props,
                            .group_id = absl::StrCat("lottery-cdc-relay.checkpoint-reader.", slot),
                            .timeout = timeout};
  RETURN_IF_ERROR(kafka::ReadToEnd({topic}, o, [&](const rd_kafka_message_t& m) {
    if (m.key == nullptr) return absl::OkStatus();
    std::string key(static_cast<const char*>(m.key), m.key_len);
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) return absl::OkStatus();
    if (m.payload == nullptr) {  // tombstone (drop --delete-checkpoint)
      latest.erase(key);
    } else {
      latest[key] = std::string(static_cast<const char*>(m.payload), m.len);
    }
    return absl::OkStatus();
  }));
  return latest;
}

absl::StatusOr<std::optional<std::string>> ReadLatestValue(const kafka::Properties& client_props,
                                                           const std::string& topic,
                                                           const std::string& slot,
                                                           const std::string& key,
                                                           std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(auto values, ReadLatestValues(client_props, topic, slot, {key}, timeout));
  auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  return std::move(it->second);
}

}  // namespace lottery::cdc
