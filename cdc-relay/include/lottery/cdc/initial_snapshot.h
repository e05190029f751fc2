// The relay's first start: outbox rows committed before the slot existed are not in its WAL
// stream, so the relay publishes them from the table first, then streams from the slot.
//
// The slot is created with an exported snapshot; its consistent point P splits every outbox row
// in two: rows of transactions visible in that snapshot (published from the table) and rows of
// transactions that commit after P (streamed from the slot). The snapshot is remembered as its
// pg_snapshot text S, so "visible in the snapshot" is `pg_visible_in_snapshot(txid, S)` on the
// outbox's txid column (the inserting transaction) in any later session: a kill -9 midway resumes
// the same row set. Rows are published in seq order in Kafka transactions of `batch` rows, each
// with a progress record (S, P, last seq); the last one also writes the checkpoint at P. Ids
// already present in the target topics (history from an earlier deployment) are not published
// again. docs/delivery.md, "First start".
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/cdc/lsn.h"
#include "lottery/cdc/outbox_event.h"
#include "lottery/cdc/replication.h"
#include "lottery/common/pg.h"

namespace lottery::cdc {

enum class InitialSnapshot { kAll, kNone };

// The progress record of an initial snapshot, on the checkpoint topic under
// SnapshotProgressKey(slot), written in the same Kafka transaction as the rows it counts.
struct SnapshotProgress {
  Lsn consistent_point = 0;
  std::string snapshot;  // pg_snapshot text, "xmin:xmax:xip,..."
  int64_t last_seq = 0;  // every snapshot row with seq <= last_seq is in Kafka
  int64_t published = 0;
  bool done = false;
  friend bool operator==(const SnapshotProgress&, const SnapshotProgress&) = default;
};
std::string SnapshotProgressKey(const std::string& slot);
std::string EncodeSnapshotProgress(const SnapshotProgress& p);
// kDataLoss when the value is not a progress record this relay wrote.
absl::StatusOr<SnapshotProgress> DecodeSnapshotProgress(std::string_view json);

// What the daemon does at start, decided from what exists (pure).
enum class StartAction {
  kStream,          // a checkpoint (or --initial-snapshot none with a slot): stream the slot
  kCreateSlot,      // --initial-snapshot none, no slot: create it, stream (rows before it: never)
  kSnapshot,        // no slot, no checkpoint: create the slot with a snapshot, publish, stream
  kResumeSnapshot,  // a snapshot was interrupted: finish it (same S, after last_seq), stream
  kRedoSnapshot,    // slot without checkpoint or matching progress: drop it, then as kSnapshot
};
struct StartDecision {
  StartAction action = StartAction::kStream;
  std::string why;  // for the log
};
// Errors: those of CheckSlotForStart (relay.h) when a checkpoint exists; kUnavailable when the
// slot must be dropped but another process holds it (retry later).
absl::StatusOr<StartDecision> DecideStart(const std::string& slot, const SlotInfo& info,
                                          const std::optional<Checkpoint>& checkpoint,
                                          const std::optional<SnapshotProgress>& progress,
                                          InitialSnapshot mode, const std::string& database);

// The outbox columns OutboxEventFromRow reads, in its order.
inline constexpr char kOutboxColumns[] =
    "seq, id::text, aggregatetype, aggregateid, type, topic, content_type, payload, "
    "headers::text, txid::text";
// An outbox row read with kOutboxColumns. Bad headers set OutboxEvent::bad_headers, as in the
// WAL decoder; kDataLoss when the payload or seq does not decode.
absl::StatusOr<OutboxEvent> OutboxEventFromRow(const PGresult* result, int row);

// Creates `slot` (persistent) with an exported snapshot over `repl`, imports the snapshot in
// `sql` and returns the consistent point and the snapshot as pg_snapshot text. kDataLoss when an
// outbox row's txid is not its inserting transaction (the split by txid would be wrong).
struct ExportedSnapshot {
  Lsn consistent_point = 0;
  std::string snapshot;
};
absl::StatusOr<ExportedSnapshot> CreateSlotWithSnapshot(ReplicationConnection& repl, PGconn* sql,
                                                        const std::string& slot);

// The topics and the earliest created_at (unix micros) of the snapshot rows after `after_seq`.
struct SnapshotSummary {
  int64_t rows = 0;
  std::vector<std::string> topics;
  int64_t min_created_unix_us = 0;
};
absl::StatusOr<SnapshotSummary> SummarizeSnapshot(PGconn* sql, const std::string& snapshot,
                                                  int64_t after_seq);

// What PublishSnapshot needs from the relay: one Kafka transaction per call of `commit`.
struct SnapshotSink {
  // Produces one row into the open Kafka transaction (opening it if needed); dead-letters a
  // row that can never be a record.
  std::function<absl::Status(const OutboxEvent&)> publish;
  // Produces the progress record (and, when progress.done, the checkpoint at the consistent
  // point) and commits the Kafka transaction, retrying while Kafka is unreachable.
  std::function<absl::Status(const SnapshotProgress&)> commit;
};

// Publishes the rows of `progress.snapshot` with seq > progress.last_seq, in seq order, `batch`
// rows per Kafka transaction, skipping ids in `already_in_kafka`, then commits the final record
// (done). Updates `progress` as it goes. Returns early with OK when `stop` becomes true (the
// next start resumes).
absl::Status PublishSnapshot(PGconn* sql, SnapshotProgress& progress,
                             const absl::flat_hash_set<std::string>& already_in_kafka, size_t batch,
                             const SnapshotSink& sink, const std::atomic<bool>& stop);

}  // namespace lottery::cdc
