// Command line of lottery-cdc-relay. main.cc builds a CLI11 app, adds the common options, then
// one subcommand per command; each Setup*Command registers the subcommand's own flags and returns
// the function main runs when that subcommand was chosen. Adding a command (status, replay,
// recover, drop) = a Setup function in its own source file + one line in main.cc.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "lottery/cdc/relay.h"

namespace lottery::cdc {

// Options on the top-level app (so they work with or without a subcommand, before or after its
// name), each with an environment fallback.
struct CommonOptions {
  std::string pg_dsn;                             // --pg-dsn / LOTTERY_PG_DSN
  std::string kafka_bootstrap;                    // --kafka-bootstrap / LOTTERY_KAFKA_BOOTSTRAP
  std::vector<std::string> kafka_props;           // --kafka-prop k=v (repeatable)
  std::string kafka_props_env;                    // LOTTERY_KAFKA_PROPS="k=v,k2=v2"
  std::string slot = kDefaultSlot;                // --slot / LOTTERY_RELAY_SLOT
  std::string publication = kDefaultPublication;  // --publication / LOTTERY_RELAY_PUBLICATION
  std::string checkpoint_topic = kDefaultCheckpointTopic;  // LOTTERY_RELAY_CHECKPOINT_TOPIC
  std::string metrics_addr;                                // --metrics-addr / LOTTERY_METRICS_ADDR
  // Daemon tuning and stop conditions (also here so the environment configures a bare
  // `lottery-cdc-relay`).
  size_t batch_txns = 500;         // LOTTERY_RELAY_BATCH_TXNS
  int batch_ms = 20;               // LOTTERY_RELAY_BATCH_MS
  bool group_commit = false;       // LOTTERY_RELAY_GROUP_COMMIT (docs/benchmarks.md)
  int status_interval_ms = 1000;   // LOTTERY_RELAY_STATUS_INTERVAL_MS
  std::string end_lsn;             // --end-lsn X/Y
  int exit_when_idle_ms = 0;       // --exit-when-idle MS
  std::string log_level = "info";  // --log-level / LOTTERY_LOG_LEVEL
  // First start and bad rows (docs/relay.md).
  std::string initial_snapshot = "all";                     // LOTTERY_RELAY_INITIAL_SNAPSHOT
  size_t snapshot_batch = 1000;                             // LOTTERY_RELAY_SNAPSHOT_BATCH
  std::string on_record_error = "dlq";                      // LOTTERY_RELAY_ON_RECORD_ERROR
  std::string dead_letter_topic = kDefaultDeadLetterTopic;  // LOTTERY_RELAY_DLQ_TOPIC
  size_t max_record_bytes = kDefaultMaxRecordBytes;         // LOTTERY_RELAY_MAX_RECORD_BYTES
  int stall_after_s = 60;                                   // LOTTERY_RELAY_STALL_AFTER_S
  int stop_timeout_s = 20;                                  // LOTTERY_RELAY_STOP_TIMEOUT_S
  size_t max_buffered_rows = 10000;                         // LOTTERY_RELAY_MAX_BUFFERED_ROWS
};

void AddCommonOptions(CLI::App& app, CommonOptions& options);

// Kafka client properties: bootstrap.servers + LOTTERY_KAFKA_PROPS + --kafka-prop (last wins).
absl::StatusOr<kafka::Properties> KafkaProperties(const CommonOptions& options);

// The daemon's configuration from the common options. kInvalidArgument names a bad value.
absl::StatusOr<RelayConfig> MakeRelayConfig(const CommonOptions& options);

using CommandMain = std::function<int()>;

// `run` (also what runs with no subcommand): the daemon. SIGTERM/SIGINT stop it cleanly (exit 0);
// exit 1 with a message on an error that retrying cannot fix (fenced producer, slot lost,
// undecodable WAL, missing publication).
CommandMain SetupRunCommand(CLI::App& command, const CommonOptions& options);

}  // namespace lottery::cdc
