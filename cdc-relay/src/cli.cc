#include "lottery/cdc/cli.h"

#include "absl/strings/str_cat.h"
#include "lottery/common/cli.h"
#include "lottery/common/daemon.h"
#include "lottery/common/status.h"
#include "spdlog/spdlog.h"

namespace lottery::cdc {

void AddCommonOptions(CLI::App& app, CommonOptions& o) {
  app.add_option("--pg-dsn", o.pg_dsn, "PostgreSQL connection string (libpq key=value or URI)")
      ->envname("LOTTERY_PG_DSN");
  app.add_option("--kafka-bootstrap", o.kafka_bootstrap, "Kafka bootstrap servers")
      ->envname("LOTTERY_KAFKA_BOOTSTRAP");
  app.add_option("--kafka-prop", o.kafka_props,
                 "librdkafka property key=value (repeatable; overrides LOTTERY_KAFKA_PROPS)");
  app.add_option("--kafka-props", o.kafka_props_env, "librdkafka properties \"k=v,k2=v2\"")
      ->envname("LOTTERY_KAFKA_PROPS");
  app.add_option("--slot", o.slot, "logical replication slot")
      ->envname("LOTTERY_RELAY_SLOT")
      ->capture_default_str();
  app.add_option("--publication", o.publication, "publication of the outbox table")
      ->envname("LOTTERY_RELAY_PUBLICATION")
      ->capture_default_str();
  app.add_option("--checkpoint-topic", o.checkpoint_topic,
                 "compacted Kafka topic holding the relay checkpoints (created if missing)")
      ->envname("LOTTERY_RELAY_CHECKPOINT_TOPIC")
      ->capture_default_str();
  app.add_option("--metrics-addr", o.metrics_addr,
                 "host:port (or :port for 127.0.0.1) for /metrics, /healthz, /readyz; 'off' or "
                 "empty: none")
      ->envname("LOTTERY_METRICS_ADDR");
  app.add_option("--batch-txns", o.batch_txns,
                 "commit a Kafka transaction every K PostgreSQL transactions")
      ->envname("LOTTERY_RELAY_BATCH_TXNS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch-ms", o.batch_ms,
                 "... or M milliseconds after the first buffered PostgreSQL transaction")
      ->envname("LOTTERY_RELAY_BATCH_MS")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--group-commit", o.group_commit,
                 "commit as soon as the stream has nothing more to read (unless behind); the "
                 "next batch forms while a commit runs. false (default): wait --batch-ms")
      ->envname("LOTTERY_RELAY_GROUP_COMMIT")
      ->capture_default_str();
  app.add_option("--status-interval-ms", o.status_interval_ms,
                 "send standby status updates (confirm LSNs to PostgreSQL) this often")
      ->envname("LOTTERY_RELAY_STATUS_INTERVAL_MS")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--initial-snapshot", o.initial_snapshot,
                 "first start (no slot, no checkpoint): publish the rows already in the outbox "
                 "(all) or only rows committed after the slot is created (none)")
      ->envname("LOTTERY_RELAY_INITIAL_SNAPSHOT")
      ->check(CLI::IsMember({"all", "none"}))
      ->capture_default_str();
  app.add_option("--snapshot-batch", o.snapshot_batch,
                 "rows per Kafka transaction while publishing the initial snapshot")
      ->envname("LOTTERY_RELAY_SNAPSHOT_BATCH")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--on-record-error", o.on_record_error,
                 "a row that can never be a Kafka record (too large, invalid topic, bad "
                 "headers): write a dead letter in its place (dlq) or exit 1 naming it (stop)")
      ->envname("LOTTERY_RELAY_ON_RECORD_ERROR")
      ->check(CLI::IsMember({"dlq", "stop"}))
      ->capture_default_str();
  app.add_option("--dlq-topic", o.dead_letter_topic, "topic of the relay's dead letters")
      ->envname("LOTTERY_RELAY_DLQ_TOPIC")
      ->capture_default_str();
  app.add_option("--max-record-bytes", o.max_record_bytes,
                 "largest record the relay produces (librdkafka's message.max.bytes)")
      ->envname("LOTTERY_RELAY_MAX_RECORD_BYTES")
      ->check(CLI::Range(size_t{4096}, size_t{1} << 30))
      ->capture_default_str();
  app.add_option("--stall-after", o.stall_after_s,
                 "seconds of lag with no confirmed progress before /readyz says not ready")
      ->envname("LOTTERY_RELAY_STALL_AFTER_S")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--stop-timeout", o.stop_timeout_s,
                 "seconds SIGTERM waits for an unreachable Kafka to take the final commit; then "
                 "the relay exits 0 and the next one on the slot aborts the open transaction")
      ->envname("LOTTERY_RELAY_STOP_TIMEOUT_S")
      ->check(CLI::Range(0, 3600))
      ->capture_default_str();
  app.add_option("--max-buffered-rows", o.max_buffered_rows,
                 "a PostgreSQL transaction with more outbox rows is streamed into its Kafka "
                 "transaction as it is decoded, not buffered whole (bounds memory)")
      ->envname("LOTTERY_RELAY_MAX_BUFFERED_ROWS")
      ->check(CLI::Range(size_t{1}, size_t{10'000'000}))
      ->capture_default_str();
  app.add_option("--end-lsn", o.end_lsn,
                 "exit 0 once everything up to this LSN (X/Y) is in Kafka and confirmed");
  app.add_option("--exit-when-idle", o.exit_when_idle_ms,
                 "exit 0 after MS milliseconds without WAL data and nothing pending");
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error|critical|off")
      ->envname("LOTTERY_LOG_LEVEL")
      ->check(lottery::cli::LogLevel())
      ->capture_default_str();
}

absl::StatusOr<kafka::Properties> KafkaProperties(const CommonOptions& o) {
  kafka::Properties props;
  if (o.kafka_bootstrap.empty()) {
    return absl::InvalidArgumentError(
        "no Kafka bootstrap servers: set --kafka-bootstrap or "
        "LOTTERY_KAFKA_BOOTSTRAP");
  }
  props["bootstrap.servers"] = o.kafka_bootstrap;
  RETURN_IF_ERROR(kafka::AddPropertyList(props, o.kafka_props_env));
  for (const auto& p : o.kafka_props) RETURN_IF_ERROR(kafka::AddPropertyAssignment(props, p));
  return props;
}

absl::StatusOr<RelayConfig> MakeRelayConfig(const CommonOptions& o) {
  RelayConfig c;
  if (o.pg_dsn.empty()) {
    return absl::InvalidArgumentError("no PostgreSQL DSN: set --pg-dsn or LOTTERY_PG_DSN");
  }
  c.pg_dsn = o.pg_dsn;
  ASSIGN_OR_RETURN(c.kafka_props, KafkaProperties(o));
  c.slot = o.slot;
  c.publication = o.publication;
  c.checkpoint_topic = o.checkpoint_topic;
  // One convention with the writer (metrics.h): "" or "off" is no server, a bad address exit 2.
  auto metrics_addr = metrics::ParseListenAddress(o.metrics_addr);
  if (!metrics_addr.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-addr: ", metrics_addr.status().message()));
  }
  c.metrics_addr = metrics_addr->has_value() ? (*metrics_addr)->ToString() : "";
  c.batch_txns = o.batch_txns;
  c.batch_time = absl::Milliseconds(o.batch_ms);
  c.group_commit = o.group_commit;
  if (!o.end_lsn.empty()) {
    auto lsn = ParseLsn(o.end_lsn);
    if (!lsn.ok())
      return absl::InvalidArgumentError(absl::StrCat("--end-lsn: ", lsn.status().message()));
    c.end_lsn = *lsn;
  }
  c.exit_when_idle = absl::Milliseconds(o.exit_when_idle_ms);
  c.status_interval = absl::Milliseconds(o.status_interval_ms);
  c.initial_snapshot =
      o.initial_snapshot == "none" ? InitialSnapshot::kNone : InitialSnapshot::kAll;
  c.snapshot_batch = o.snapshot_batch;
  c.on_record_error =
      o.on_record_error == "stop" ? OnRecordError::kStop : OnRecordError::kDeadLetter;
  if (!IsValidTopicName(o.dead_letter_topic)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--dlq-topic: \"", o.dead_letter_topic, "\" is not a valid topic name"));
  }
  c.dead_letter_topic = o.dead_letter_topic;
  c.max_record_bytes = o.max_record_bytes;
  c.stall_after = absl::Seconds(o.stall_after_s);
  c.stop_timeout = absl::Seconds(o.stop_timeout_s);
  c.max_buffered_rows = o.max_buffered_rows;
  return c;
}

CommandMain SetupRunCommand(CLI::App& command, const CommonOptions& options) {
  (void)command;  // the daemon's flags live on the top-level app (see CommonOptions)
  return [&options]() -> int {
    spdlog::set_level(cli::ParseLogLevel(options.log_level).value_or(spdlog::level::info));
    spdlog::flush_on(spdlog::level::trace);  // a kill -9 must not eat the last lines
    auto config = MakeRelayConfig(options);
    if (!config.ok()) {
      spdlog::error("{}", std::string(config.status().message()));
      return 2;
    }
    const std::atomic<bool>& stop = daemon::InstallStopSignals();
    metrics::Registry registry;
    absl::Status st = RunRelay(*config, stop, registry);
    if (!st.ok()) {
      spdlog::error("lottery-cdc-relay stopped: {}", st.ToString());
      return 1;
    }
    return 0;
  };
}

}  // namespace lottery::cdc
