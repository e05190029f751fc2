// `status`: what the slot and the Kafka checkpoint say, and one verdict for humans and probes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/cdc/replication.h"
#include "lottery/common/kafka.h"

namespace lottery::cdc::recovery {

// The exit code of `lottery-cdc-relay status` is the numeric value.
enum class Verdict : int {
  kHealthy = 0,
  kLagging = 1,          // relay not streaming, wal_status unreserved, or lag above the limit
  kSlotLost = 2,         // slot missing or invalidated while a checkpoint exists (or invalidated)
  kCheckpointAhead = 3,  // checkpoint beyond this server's WAL / from another cluster: data loss
  kUnknown = 4,          // PostgreSQL or Kafka could not be asked
  kNeverStarted = 5,     // no slot, no checkpoint
  kStalled = 6,          // outbox rows older than the stall limit are not in Kafka yet
  kDegraded = 7,         // streaming, but rows were dead-lettered (checkpoint counts them)
};
std::string_view VerdictName(Verdict v);

struct StatusReport {
  std::string slot_name, publication, checkpoint_topic;  // what was asked about
  SlotInfo slot;
  std::optional<Checkpoint> checkpoint;
  std::optional<std::string> recovery_progress;  // last `recover` run's progress record (JSON)
  // The server's WAL position read AFTER the checkpoint (a checkpoint beyond it is impossible
  // unless the database lost WAL); 0: use slot.current_wal_lsn.
  Lsn wal_after_checkpoint = 0;
  std::string server_system_id;       // "" when the role may not read pg_control_system()
  int64_t lag_bytes = 0;              // current WAL - confirmed_flush_lsn (slot exists)
  std::optional<double> lag_seconds;  // now - commit time of the checkpoint's transaction
  // Outbox rows created after the checkpoint's commit and longer ago than the stall limit: work
  // the relay should have published by now (the oldest one's age in seconds).
  int64_t overdue_rows = 0;
  double overdue_age_seconds = 0;
  Verdict verdict = Verdict::kUnknown;
  std::string reason;  // one line
};

struct StatusLimits {
  int64_t max_lag_bytes = 64ll << 20;
  absl::Duration stall_after = absl::Seconds(60);
};

// Pure: the verdict and its one-line reason from what was read.
void Judge(StatusReport& report, const StatusLimits& limits);

// Reads the slot (normal connection to `pg_dsn`) and the checkpoint (read_committed, never
// fencing anybody) and judges. Connection failures are reported in the verdict (kUnknown), not
// as an error.
StatusReport ReadStatus(const std::string& pg_dsn, const kafka::Properties& kafka_props,
                        const std::string& checkpoint_topic, const std::string& slot,
                        const std::string& publication, const StatusLimits& limits);

std::string StatusText(const StatusReport& report);
std::string StatusJson(const StatusReport& report);

}  // namespace lottery::cdc::recovery
