#include "lottery/writer/config.h"

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lottery/common/cli.h"
#include "lottery/common/metrics.h"
#include "lottery/common/status.h"

namespace lottery::writer {

void AddFlags(CLI::App& app, WriterConfig& c) {
  app.add_option("--pg-dsn", c.pg_dsn, "libpq connection string")->envname("LOTTERY_PG_DSN");
  app.add_option("--kafka-bootstrap", c.kafka_bootstrap, "Kafka bootstrap servers")
      ->envname("LOTTERY_KAFKA_BOOTSTRAP");
  app.add_option("--stake-topic", c.stake_topic, "topic of stake events")
      ->envname("LOTTERY_STAKE_TOPIC")
      ->capture_default_str();
  app.add_option("--topic-prefix", c.topic_prefix,
                 "prefix of every topic read or written (the original deployment used 'lottery_')")
      ->envname("LOTTERY_TOPIC_PREFIX");
  app.add_option("--consumer-group", c.consumer_group,
                 "Kafka consumer group; also the key of the "
                 "offsets stored in PostgreSQL")
      ->envname("LOTTERY_CONSUMER_GROUP")
      ->capture_default_str();
  app.add_option("--players-per-lottery", c.players_per_lottery,
                 "players needed for games without their own game_rule row (0: as stored)")
      ->envname("LOTTERY_PLAYERS_PER_LOTTERY")
      ->capture_default_str();
  app.add_option("--batch-size", c.batch_size, "max messages per transaction")
      ->envname("LOTTERY_BATCH_SIZE")
      ->capture_default_str();
  app.add_option("--batch-linger-ms", c.batch_linger_ms, "max wait to fill a batch")
      ->envname("LOTTERY_BATCH_LINGER_MS")
      ->capture_default_str();
  app.add_option("--pg-connections", c.pg_connections,
                 "PostgreSQL connections a large batch is spread over, by partition (1-16)")
      ->envname("LOTTERY_PG_CONNECTIONS")
      ->capture_default_str();
  app.add_option("--event-format", c.event_format, "outbox payloads: protobuf | json")
      ->envname("LOTTERY_EVENT_FORMAT")
      ->capture_default_str();
  app.add_option("--metrics-addr", c.metrics_addr,
                 "host:port (or :port for 127.0.0.1) of /metrics /healthz /readyz; 'off' or "
                 "empty: none")
      ->envname("LOTTERY_METRICS_ADDR")
      ->capture_default_str();
  app.add_option("--kafka-prop", c.kafka_props, "librdkafka property k=v (repeatable)");
  app.add_option("--kafka-props", c.kafka_props_env, "librdkafka properties k=v,k2=v2")
      ->envname("LOTTERY_KAFKA_PROPS");
  app.add_option("--max-stake", c.max_stake, "largest accepted stake, major units")
      ->envname("LOTTERY_MAX_STAKE")
      ->capture_default_str();
  app.add_option("--outbox-retention", c.outbox_retention,
                 "prune outbox rows older than this (30s, 15m, 12h, 7d; 0 keeps all)")
      ->envname("LOTTERY_OUTBOX_RETENTION")
      ->capture_default_str();
  app.add_option("--log-level", c.log_level, "trace|debug|info|warn|error|critical|off")
      ->envname("LOTTERY_LOG_LEVEL")
      ->check(lottery::cli::LogLevel())
      ->capture_default_str();
  app.add_option("--seed-key-file", c.seed_key_file,
                 "file of seed keys '<id>:<hex>', one per line, the last one active "
                 "(default: the variable LOTTERY_SEED_KEYS, same format)")
      ->envname("LOTTERY_SEED_KEY_FILE");
  app.add_option("--commit-to-kafka", c.commit_to_kafka,
                 "mirror committed offsets to the Kafka group (lag monitoring only)")
      ->capture_default_str();
  app.add_option("--max-messages", c.max_messages,
                 "exit after committing this many messages (0: never)");
  app.add_option("--exit-when-idle", c.exit_when_idle_ms,
                 "exit after this many ms without a message (0: never)");
}

absl::StatusOr<int64_t> ParseRetention(const std::string& text) {
  if (text == "0") return 0;
  if (text.size() < 2)
    return absl::InvalidArgumentError("outbox retention: want e.g. 7d, 12h, 15m, 30s, 0");
  int64_t n = 0;
  if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &n) || n < 0) {
    return absl::InvalidArgumentError("outbox retention: want e.g. 7d, 12h, 15m, 30s, 0");
  }
  switch (text.back()) {
    case 's':
      return n;
    case 'm':
      return n * 60;
    case 'h':
      return n * 3600;
    case 'd':
      return n * 86400;
    default:
      return absl::InvalidArgumentError("outbox retention: unit must be s, m, h or d");
  }
}

absl::StatusOr<IngestOptions> MakeIngestOptions(const WriterConfig& c) {
  IngestOptions o;
  if (c.consumer_group.empty()) return absl::InvalidArgumentError("--consumer-group is empty");
  if (c.stake_topic.empty()) return absl::InvalidArgumentError("--stake-topic is empty");
  if (c.players_per_lottery != 0 && c.players_per_lottery < 2) {
    return absl::InvalidArgumentError("--players-per-lottery must be >= 2 (or 0)");
  }
  if (c.batch_size < 1) return absl::InvalidArgumentError("--batch-size must be >= 1");
  if (c.batch_linger_ms < 0) return absl::InvalidArgumentError("--batch-linger-ms must be >= 0");
  if (c.pg_connections < 1 || c.pg_connections > 16)
    return absl::InvalidArgumentError("--pg-connections must be between 1 and 16");
  if (c.max_stake < 1 || c.max_stake > INT64_MAX / 100) {
    return absl::InvalidArgumentError("--max-stake out of range");
  }
  if (c.event_format == "protobuf") {
    o.event_format = EventFormat::kProtobuf;
  } else if (c.event_format == "json") {
    o.event_format = EventFormat::kJson;
  } else {
    return absl::InvalidArgumentError("--event-format must be protobuf or json");
  }
  RETURN_IF_ERROR(ParseRetention(c.outbox_retention).status());
  // The relay's convention too (metrics.h); main.cc serves unless the address is "" or "off".
  if (auto addr = lottery::metrics::ParseListenAddress(c.metrics_addr); !addr.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--metrics-addr: ", addr.status().message()));
  }
  const char* keys_env = std::getenv("LOTTERY_SEED_KEYS");
  ASSIGN_OR_RETURN(o.seed_keys, LoadSeedKeyring(c.seed_key_file, keys_env ? keys_env : ""));
  o.consumer_group = c.consumer_group;
  o.lottery_topic = c.topic_prefix + "lottery.v1.lottery";
  o.award_topic = c.topic_prefix + "lottery.v1.award";
  o.dlq_topic = c.topic_prefix + c.stake_topic + ".dlq";
  o.default_players_needed = c.players_per_lottery;
  o.parse.max_stake_major = c.max_stake;
  return o;
}

absl::StatusOr<lottery::kafka::Properties> MakeConsumerProperties(const WriterConfig& c) {
  if (c.kafka_bootstrap.empty()) return absl::InvalidArgumentError("--kafka-bootstrap is not set");
  lottery::kafka::Properties p = {
      {"bootstrap.servers", c.kafka_bootstrap},
      {"group.id", c.consumer_group},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", "earliest"},
      // Eager protocol: a rebalance revokes everything, then assigns; simplest with manual assign.
      {"partition.assignment.strategy", "range,roundrobin"},
      {"isolation.level", "read_committed"},
      {"client.id", "lottery-writer"},
      // A fetch returns up to this much of each partition, so a backlog's batches mix partitions
      // (about 1,000 stakes of each) and can be split over --pg-connections (lanes.h); with the
      // 1 MiB default a batch is mostly one partition's.
      {"max.partition.fetch.bytes", "262144"},
  };
  if (!c.kafka_props_env.empty())
    RETURN_IF_ERROR(lottery::kafka::AddPropertyList(p, c.kafka_props_env));
  for (const std::string& kv : c.kafka_props)
    RETURN_IF_ERROR(lottery::kafka::AddPropertyAssignment(p, kv));
  return p;
}

}  // namespace lottery::writer
