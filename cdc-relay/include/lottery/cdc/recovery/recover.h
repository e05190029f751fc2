// `recover`: publish outbox rows from the TABLE when the stream cannot deliver them (Kafka lost
// data, or the slot was lost). The correctness argument is in docs/delivery.md ("Recovery").
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/cdc/lsn.h"
#include "lottery/common/kafka.h"
#include "lottery/common/pg.h"

namespace lottery::cdc::recovery {

struct RecoverOptions {
  std::string pg_dsn;
  kafka::Properties kafka_props;
  std::string slot;
  std::string publication;
  std::string checkpoint_topic;

  enum class Mode {
    kFromTable,  // --from-seq / --since: Kafka lost data, the relay keeps running
    kSlotLost,   // --slot-lost: the slot is missing or invalidated, the relay is stopped
  };
  Mode mode = Mode::kFromTable;
  std::optional<int64_t> from_seq;   // rows with seq >= from_seq
  std::optional<std::string> since;  // rows with created_at >= since (timestamptz text)
  // kSlotLost: rows with created_at >= checkpoint commit time - window are candidates;
  // nullopt = the whole table ("--window all", or no checkpoint).
  std::optional<absl::Duration> window = absl::Hours(1);
  // Clock skew allowed between PostgreSQL's now() and the Kafka record timestamps when looking
  // for already-published ids.
  absl::Duration skew = absl::Minutes(5);
  size_t batch = 1000;  // kFromTable: events per Kafka transaction
  // kFromTable: how long to wait for the running relay to pass the snapshot's consistent point.
  absl::Duration wait_for_relay = absl::Minutes(2);
  std::string run_id;  // empty: a new random UUID
};

struct RecoverResult {
  std::string run_id;
  Lsn consistent_point = 0;
  int64_t candidates = 0;
  int64_t already_in_kafka = 0;
  int64_t published = 0;
  int64_t first_seq = 0, last_seq = 0;  // of the published rows (0 when none)
};

// Runs one recovery. Errors: kFailedPrecondition when the situation does not call for this mode
// (e.g. --slot-lost while the slot is healthy, or an invalidated slot still active), or the relay
// did not pass the consistent point in time (kFromTable); kDataLoss for a row that cannot be
// published as it is; kUnavailable / kAborted when PostgreSQL or Kafka failed midway — nothing
// is then half-done that a rerun would repeat (see docs/delivery.md).
absl::StatusOr<RecoverResult> Recover(const RecoverOptions& options);

// Which outbox rows a recovery run considers, as a condition on the outbox table and its text
// parameters ($1, $2, ...). kSlotLost: rows created since the checkpoint's commit time minus the
// window, or every row (no window, no checkpoint, or a checkpoint without a commit time).
// kFromTable: seq >= from_seq and/or created_at >= since; neither is kInvalidArgument.
struct CandidateFilter {
  std::string where;
  std::vector<std::string> params;
};
absl::StatusOr<CandidateFilter> SelectCandidates(const RecoverOptions& options,
                                                 const std::optional<Checkpoint>& checkpoint);

// The event ids (`id` header) present for a read_committed consumer in `topics`, in records with
// a timestamp at or after `since` (all records when since is InfinitePast). Missing topics have
// none. Reads each partition to its end (last stable offset).
absl::StatusOr<absl::flat_hash_set<std::string>> PublishedIds(
    const kafka::Properties& props, const std::vector<std::string>& topics, absl::Time since,
    absl::Duration timeout);

// The checkpoint and the last recovery progress record of `slot` (raw JSON: run_id, mode,
// consistent_point, last_seq, published, done), both from the checkpoint topic in one pass of
// the checkpoint reader (checkpoint.h). Never fences anybody.
struct CheckpointRecords {
  std::optional<Checkpoint> checkpoint;
  std::optional<std::string> recovery_progress;
};
absl::StatusOr<CheckpointRecords> ReadCheckpointRecords(const kafka::Properties& props,
                                                        const std::string& topic,
                                                        const std::string& slot,
                                                        absl::Duration timeout);

// Key of the recovery progress record on the checkpoint topic.
std::string ProgressKey(const std::string& slot);

}  // namespace lottery::cdc::recovery
