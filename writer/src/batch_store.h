// The I/O around PlanBatch (batch_plan.h): what the ingest transaction reads before it plans and
// writes after. Every function runs inside the caller's transaction and returns the Status codes
// of common/pg.h; nothing here decides anything a plan decides.
#pragma once

#include <libpq-fe.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/domain/uuid.h"
#include "lottery/writer/batch_plan.h"
#include "lottery/writer/ingest.h"

namespace lottery::writer::store {

// Claims the absent consumer_offset rows of the batch's partitions (at their first offset),
// locks every partition's row and compares it with what the caller expected (nullopt = no row,
// so the first offset). Returns the stored offsets that differ: empty when the batch may go on.
absl::StatusOr<std::map<TopicPartition, int64_t>> Fence(
    PGconn* conn, const std::string& consumer_group,
    const std::map<TopicPartition, int64_t>& first_offset,
    const std::map<TopicPartition, std::optional<int64_t>>& expected);

// pg_advisory_xact_lock of each game, in ascending GameLockKey order.
absl::Status LockGames(PGconn* conn, const std::vector<lottery::domain::Uuid>& games);

// What PlanBatch needs of `games` (locked by the caller) and of the event ids of `stakes`: their
// rules (kFailedPrecondition on an invalid rule or no default row), their open and their
// leftover started lotteries with every entry and the seed re-derived (kFailedPrecondition when
// the key id is not held or does not reproduce the commitment), the stakes stored under the ids.
absl::StatusOr<BatchState> LoadBatchState(PGconn* conn,
                                          const std::vector<lottery::domain::Uuid>& games,
                                          const std::vector<BatchStake>& stakes,
                                          const IngestOptions& options);

// Writes a plan: lotteries, stored entries' statuses, new entries, awards, rejected stakes, the
// outbox, and the next offset of every partition of the batch. kAborted when an entry id was
// inserted meanwhile under another game by another writer (redo the batch: it is then a repeat).
absl::Status WriteBatchPlan(PGconn* conn, const BatchPlan& plan, const std::string& consumer_group);

// Stored offsets of `partitions` (absent = no row).
absl::StatusOr<std::map<TopicPartition, int64_t>> ReadOffsets(
    PGconn* conn, const std::string& consumer_group, const std::vector<TopicPartition>& partitions);

}  // namespace lottery::writer::store
