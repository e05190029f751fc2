// The writer daemon's run loop: consume a batch, apply it in one PostgreSQL transaction
// (ingest.h), only then acknowledge (advance the in-memory position, mirror the offsets to Kafka
// for lag monitoring). PostgreSQL is the source of truth for offsets: on every assignment the
// consumer reads them back from consumer_offset and assigns at exactly those positions.
//
// Delivery contract: every record of the subscribed topic is applied exactly once (stake ->
// one lottery_entry, malformed -> one rejected_stake + DLQ outbox row, other eventType ->
// counted skip), whatever the crashes, restarts, rebalances and PostgreSQL outages. Nothing is
// polled into a new batch while a batch cannot be committed; the same batch is retried.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lottery/common/daemon.h"
#include "lottery/common/kafka.h"
#include "lottery/common/metrics.h"
#include "lottery/common/pg.h"
#include "lottery/writer/config.h"
#include "lottery/writer/health.h"
#include "lottery/writer/ingest.h"
#include "lottery/writer/skip_labels.h"

namespace lottery::writer {

class WatermarkProbe;

struct WriterMetrics {
  explicit WriterMetrics(lottery::metrics::Registry& r);
  lottery::metrics::Registry& registry;
  lottery::metrics::Counter &consumed, &entries, &duplicates, &conflicting_duplicates, &rejected,
      &skipped;
  lottery::metrics::Counter &opened, &started, &finished, &awards, &draw_failures;
  lottery::metrics::Counter &batches, &retries, &fenced, &pruned, &offset_resets;
  lottery::metrics::Histogram &batch_size, &txn_seconds;
  lottery::metrics::Gauge &lag, &ready;
  // lottery_writer_skipped_by_type_total{event_type=...}, bounded by skip_labels.
  SkipLabels skip_labels;
  std::map<std::string, lottery::metrics::Counter*> skipped_by_type;
  // Counts a committed batch (and logs its skipped event types at debug level).
  void CountBatch(const BatchResult& r);
};

class Writer {
 public:
  // Validates the configuration and creates the Kafka consumer (no network I/O yet).
  static absl::StatusOr<std::unique_ptr<Writer>> Create(const WriterConfig& config,
                                                        lottery::metrics::Registry& registry);
  ~Writer();

  // Runs until `stop` is set (then: finish and commit the current batch, leave the group) or a
  // stop condition of the config is met. OK on an orderly exit.
  absl::Status Run(const std::atomic<bool>& stop);

  // /readyz: true while subscribed, connected to PostgreSQL (checked while idle too) and batches
  // commit (health.h). Lock-free: the HTTP loop calls it.
  bool Ready() const { return ready_.load(); }

 private:
  Writer(const WriterConfig& config, IngestOptions options, lottery::metrics::Registry& registry);
  static void RebalanceCb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* parts, void* opaque);
  void OnAssign(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts);
  void OnRevoke(rd_kafka_topic_partition_list_t* parts);
  // Connects (with backoff) unless connected; false when `stop` was set first.
  bool EnsurePg(const std::atomic<bool>* stop);
  void Sleep(absl::Duration d, const std::atomic<bool>* stop);
  // Commits `batch` (retrying; see the contract). False if it was abandoned because of `stop`.
  // A large batch from several partitions is committed as lanes (lanes.h), at once.
  bool CommitBatch(std::vector<RawMessage>& batch, const std::atomic<bool>& stop);
  // One lane of a batch: its transaction's input and what became of it.
  struct LaneAttempt {
    BatchInput input;
    absl::StatusOr<BatchOutcome> outcome = absl::UnknownError("not run");
    absl::Duration took;
    size_t conn = 0;  // 0: pg_; k: lane_pg_[k - 1]
  };
  // Runs every lane's ApplyBatch at once: lane 0 on pg_ on this thread, each other lane on an
  // extra connection on a thread of its own. A lane without an extra connection (one cannot be
  // made: max_connections, a role's CONNECTION LIMIT) runs on pg_ after lane 0, so fewer
  // connections than asked slow the writer down and never stop it.
  void RunLanes(std::vector<LaneAttempt>& lanes);
  // lane_pg_[k], connected now if needed; null while connecting fails (retried every 30 s).
  PGconn* LaneConnection(size_t k);
  void Seek(const TopicPartition& tp, int64_t offset);
  void Housekeeping(bool force);
  // Recomputes the lag gauges: high watermark (the probe's latest answer from the broker when
  // there is a new one; else librdkafka's cached one) minus the offset committed in PostgreSQL.
  void RefreshLag();
  // Tells the probe the assignment (position_'s partitions).
  void ProbeAssigned();
  // A cheap query (or a reconnect) at most every kPingEvery without a committed batch.
  void CheckPgWhileIdle();
  // Copies health_'s verdict to ready_ and logs each change with its reason.
  void PublishHealth();

  WriterConfig config_;
  IngestOptions options_;
  WriterMetrics metrics_;
  int64_t retention_seconds_ = 0;
  lottery::kafka::KafkaPtr consumer_;
  std::unique_ptr<WatermarkProbe> probe_;  // while subscribed; uses consumer_
  lottery::pg::ConnPtr pg_;
  std::vector<lottery::pg::ConnPtr> lane_pg_;  // the extra connections of lanes 1, 2, ...
  absl::Time lane_connect_after_ = absl::InfinitePast();
  daemon::Backoff backoff_{absl::Milliseconds(100), absl::Seconds(5), std::random_device{}()};
  Health health_;
  std::atomic<bool> ready_{false};
  std::string logged_reason_;
  absl::Time last_pg_ok_ = absl::InfinitePast();
  absl::Time last_ping_ = absl::InfinitePast();
  std::map<TopicPartition, std::pair<int64_t, int64_t>> watermarks_;  // low, high
  std::map<TopicPartition, uint64_t> probe_answer_;  // the probe's answer watermarks_ holds
  const std::atomic<bool>* stop_ = nullptr;          // for the rebalance callback
  // Assigned partitions and what consumer_offset holds for each (nullopt: no row).
  std::map<TopicPartition, std::optional<int64_t>> position_;
  std::vector<RawMessage>* pending_ = nullptr;  // the batch being collected (for revokes)
  std::map<int32_t, lottery::metrics::Gauge*> lag_by_partition_;
  absl::Time last_housekeeping_ = absl::InfinitePast();
  absl::Time last_activity_ = absl::Now();  // last record or assignment (for --exit-when-idle)
  absl::Time last_commit_ = absl::InfinitePast();
};

}  // namespace lottery::writer
