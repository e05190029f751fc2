// The relay's checkpoint: the last PostgreSQL commit (end) LSN whose outbox events are committed in
// Kafka, stored on a compacted topic keyed by slot name and written in the SAME Kafka transaction
// as those events. A read_committed reader therefore sees a checkpoint iff it sees its events.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/cdc/lsn.h"
#include "lottery/common/kafka.h"

namespace lottery::cdc {

inline constexpr char kDefaultCheckpointTopic[] = "lottery.relay.checkpoints";

struct Checkpoint {
  std::string slot;
  Lsn lsn = 0;              // end LSN of the last PostgreSQL commit included in Kafka
  int64_t commit_time = 0;  // its commit time, microseconds since 2000-01-01 UTC
  std::string system_id;    // IDENTIFY_SYSTEM systemid of the cluster it came from
  std::string database;     // database of the slot
  uint64_t events = 0;      // outbox events published by the Kafka transaction that wrote it
  int64_t written_at_unix_ms = 0;
  // Outbox rows dead-lettered on this slot so far (cumulative), and the last one
  // ("seq <n> id <uuid>: <reason>"). `status` reports them; any makes its verdict "degraded".
  uint64_t dead_lettered = 0;
  std::string last_dead_letter;

  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};

// JSON value of a checkpoint record, e.g.
// {"slot":"s","lsn":"0/16B3748","commit_time_us":..,"system_id":"..","database":"..",
//  "events":3,"written_at_unix_ms":..,"dead_lettered":0,"last_dead_letter":""}
std::string EncodeCheckpoint(const Checkpoint& checkpoint);
// kDataLoss when the value is not a checkpoint this relay wrote.
absl::StatusOr<Checkpoint> DecodeCheckpoint(std::string_view json);

// Creates the checkpoint topic (1 partition, cleanup.policy=compact) if it does not exist.
absl::Status EnsureCheckpointTopic(const std::string& bootstrap, const std::string& topic);

// The one reader of the checkpoint topic. It reads every partition with read_committed from the
// beginning to the end the topic had when the call started (kafka::ReadToEnd), so it finishes
// while a relay keeps committing; the last value of each key wins and a tombstone removes it.
// kUnavailable when Kafka cannot be reached within `timeout`.
//
// The daemon calls it AFTER its transactional producer ran init_transactions: that fences any
// older relay and aborts its open transaction, so nothing can commit behind its back and the
// last stable offset is not held back by a zombie's transaction. Status and recovery call it
// without fencing anybody and get the state as of the call.

// The latest checkpoint of `slot`; nullopt when the topic or the key does not exist.
absl::StatusOr<std::optional<Checkpoint>> ReadCheckpoint(
    const kafka::Properties& client_props, const std::string& topic, const std::string& slot,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The latest value of each of `keys` (absent or tombstoned: no entry), in one pass. `slot`
// names the reader's consumer group (never committed to).
absl::StatusOr<std::map<std::string, std::string>> ReadLatestValues(
    const kafka::Properties& client_props, const std::string& topic, const std::string& slot,
    const std::vector<std::string>& keys, std::chrono::milliseconds timeout);

// ReadLatestValues for one key (nullopt: no such key, or a tombstone).
absl::StatusOr<std::optional<std::string>> ReadLatestValue(
    const kafka::Properties& client_props, const std::string& topic, const std::string& slot,
    const std::string& key, std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace lottery::cdc
