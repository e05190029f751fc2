// The relay daemon: streams the outbox publication from a logical replication slot (pgoutput) and
// publishes every outbox insert to Kafka exactly once for read_committed consumers.
// docs/relay.md explains the protocol and why exactly-once holds.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/cdc/initial_snapshot.h"
#include "lottery/cdc/lsn.h"
#include "lottery/cdc/record_guard.h"
#include "lottery/cdc/replication.h"
#include "lottery/common/kafka.h"
#include "lottery/common/metrics.h"

namespace lottery::cdc {

struct RelayConfig {
  std::string pg_dsn;
  kafka::Properties kafka_props;  // bootstrap.servers + pass-through properties
  std::string slot = kDefaultSlot;
  std::string publication = kDefaultPublication;
  std::string checkpoint_topic = kDefaultCheckpointTopic;
  size_t batch_txns = 500;                             // K
  absl::Duration batch_time = absl::Milliseconds(20);  // M
  // Commit as soon as the stream is drained (BatchTracker::DueWhenDrained); false: wait for M.
  // Off by default: on a machine where the broker shares the cores, the extra commits cost more
  // latency than the window (docs/benchmarks.md has the side-by-side runs).
  bool group_commit = false;
  absl::Duration status_interval = absl::Seconds(1);
  absl::Duration slot_poll_interval = absl::Seconds(5);  // lag and retained-WAL gauges
  std::string metrics_addr;                              // "host:port"; empty: no HTTP server
  // First start (no slot, no checkpoint): publish the rows already in the outbox (kAll), or only
  // what commits after the slot is created (kNone). initial_snapshot.h.
  InitialSnapshot initial_snapshot = InitialSnapshot::kAll;
  size_t snapshot_batch = 1000;  // rows per Kafka transaction during the initial snapshot
  // A PostgreSQL transaction with more outbox rows than this is streamed into its Kafka
  // transaction as it is decoded instead of being buffered whole (bounded memory).
  size_t max_buffered_rows = 10000;
  // A row that can never be a Kafka record (record_guard.h): dead-letter it, or stop.
  OnRecordError on_record_error = OnRecordError::kDeadLetter;
  std::string dead_letter_topic = kDefaultDeadLetterTopic;
  size_t max_record_bytes = kDefaultMaxRecordBytes;
  // /readyz turns false when lag does not shrink for this long (ProgressWatch).
  absl::Duration stall_after = absl::Seconds(60);
  // After SIGTERM, how long the final Kafka commit may wait for an unreachable broker before the
  // relay exits 0 and leaves the open transaction to be aborted by the next relay.
  absl::Duration stop_timeout = absl::Seconds(20);
  // Stop conditions (tests, benchmarks), like pg_recvlogical --endpos:
  Lsn end_lsn = 0;                                       // exit 0 once confirmed >= end_lsn
  absl::Duration exit_when_idle = absl::ZeroDuration();  // exit 0 after this long with no data
};

// The message the daemon stops with when its slot is gone but Kafka holds a checkpoint for it:
// names the recovery command.
absl::Status SlotLostError(const std::string& slot, const SlotInfo& info,
                           const std::optional<Checkpoint>& checkpoint);

// Decides whether the daemon may stream from `info` given the checkpoint in Kafka:
//  - slot exists, not lost, pgoutput, our database     -> OK
//  - slot missing, no checkpoint (first start)          -> OK, caller creates the slot
//    (with the initial snapshot, initial_snapshot.h)
//  - slot missing with a checkpoint, or wal_status lost -> kFailedPrecondition (SlotLostError)
//  - wrong plugin / database / physical slot            -> kFailedPrecondition
absl::Status CheckSlotForStart(const std::string& slot, const SlotInfo& info,
                               const std::optional<Checkpoint>& checkpoint,
                               const std::string& database);

// Runs the daemon until `stop` becomes true (then commits or aborts the open Kafka transaction,
// confirms, returns OK), a stop condition of `config` is met (OK), or an error that retrying
// cannot fix: kFailedPrecondition (fenced/fatal producer, slot lost, missing publication),
// kDataLoss (undecodable WAL), kInvalidArgument (bad config), or a row that cannot be published
// with --on-record-error stop (kFailedPrecondition naming it).
// Transient failures of PostgreSQL or Kafka are retried with backoff, never returned.
absl::Status RunRelay(const RelayConfig& config, const std::atomic<bool>& stop,
                      metrics::Registry& registry);

}  // namespace lottery::cdc
