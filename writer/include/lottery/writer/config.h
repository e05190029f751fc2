// lottery-writer's configuration: every flag has an environment fallback (flag > env > default),
// and `--help` lists them all.
#pragma once

#include <cstdint>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "lottery/common/kafka.h"
#include "lottery/writer/ingest.h"

namespace lottery::writer {

struct WriterConfig {
  std::string pg_dsn;                            // LOTTERY_PG_DSN
  std::string kafka_bootstrap;                   // LOTTERY_KAFKA_BOOTSTRAP
  std::string stake_topic = "player.v1.staked";  // LOTTERY_STAKE_TOPIC
  std::string topic_prefix;                      // LOTTERY_TOPIC_PREFIX, prepended to every topic
  std::string consumer_group = "lottery_service_consumer_group";  // LOTTERY_CONSUMER_GROUP
  int players_per_lottery = 0;  // LOTTERY_PLAYERS_PER_LOTTERY (0: the default rule row)
  int batch_size = 2000;        // LOTTERY_BATCH_SIZE
  int batch_linger_ms = 5;      // LOTTERY_BATCH_LINGER_MS (latency: see docs/benchmarks.md)
  // LOTTERY_PG_CONNECTIONS: a large batch from several partitions is split by partition over up
  // to this many connections, one transaction each, run at once (lanes.h). 1: one transaction.
  int pg_connections = 2;
  std::string event_format = "protobuf";        // LOTTERY_EVENT_FORMAT: protobuf | json
  std::string metrics_addr = "127.0.0.1:9464";  // LOTTERY_METRICS_ADDR ("" or "off": none)
  std::vector<std::string> kafka_props;         // --kafka-prop k=v; LOTTERY_KAFKA_PROPS="k=v,k2=v2"
  std::string kafka_props_env;
  int64_t max_stake = lottery::domain::kDefaultMaxStakeMajor;  // LOTTERY_MAX_STAKE (major units)
  std::string outbox_retention = "7d";  // LOTTERY_OUTBOX_RETENTION: 30s, 15m, 12h, 7d; 0 = keep
  std::string log_level = "info";       // LOTTERY_LOG_LEVEL
  // LOTTERY_SEED_KEY_FILE; when empty, the keys are read from LOTTERY_SEED_KEYS (seed_keys.h).
  // There is deliberately no flag that takes a key itself.
  std::string seed_key_file;
  bool commit_to_kafka = true;  // mirror committed offsets to Kafka (lag monitoring only)
  // Stop conditions (tests, benchmarks): 0 = none.
  int64_t max_messages = 0;
  int64_t exit_when_idle_ms = 0;
};

// Registers all flags (with their environment fallbacks) on `app`.
void AddFlags(CLI::App& app, WriterConfig& config);

// Checks the values and derives the ingest options (including the seed keyring, read from
// the key file or LOTTERY_SEED_KEYS) and Kafka properties. kInvalidArgument naming the bad setting.
absl::StatusOr<IngestOptions> MakeIngestOptions(const WriterConfig& config);
absl::StatusOr<lottery::kafka::Properties> MakeConsumerProperties(const WriterConfig& config);
// "30s", "15m", "12h", "7d", "0" -> seconds.
absl::StatusOr<int64_t> ParseRetention(const std::string& text);

}  // namespace lottery::writer
