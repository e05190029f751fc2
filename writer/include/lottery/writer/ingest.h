// The ingest transaction: one batch of consumed records -> one PostgreSQL transaction that
// applies every stake, rejection and skip of the batch, the lottery state changes they cause
// (open, fill, start), the draws of started lotteries, the outbox rows of all of it, and the
// next offset of every partition in the batch. Nothing is acknowledged before COMMIT returns.
//
// Fencing: before anything else the transaction locks the consumer_offset rows of the batch's
// partitions and compares them with what the caller believes is stored (`expected`). If another
// writer advanced a partition meanwhile (a rebalance the caller has not seen yet, a zombie), the
// transaction rolls back and reports the stored offsets in `fenced`; the caller seeks there and
// retries. So an offset is advanced by at most one writer at a time, from the value it read.
//
// Locking: games are locked with pg_advisory_xact_lock in ascending key order (deterministic, so
// two writers cannot deadlock on games); the partial unique index lottery_one_open_per_game is
// the database's guard for "one in_waiting lottery per game".
//
// Errors: kUnavailable (connection lost: reconnect, retry the same batch), kAborted
// (serialization failure / deadlock / lost race: redo the same batch), anything else: a bug or
// a schema problem; the caller retries with backoff and alerts, it never skips the batch.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/writer/seed_keys.h"
#include "lottery/writer/stake_parser.h"

namespace lottery::writer {

enum class EventFormat { kProtobuf, kJson };

struct IngestOptions {
  std::string consumer_group = "lottery_service_consumer_group";
  std::string lottery_topic = "lottery.v1.lottery";
  std::string award_topic = "lottery.v1.award";
  std::string dlq_topic = "player.v1.staked.dlq";
  // Overrides players_needed of the default (nil-UUID) game_rule row; games with their own row
  // keep theirs. 0 = use the row as stored.
  int default_players_needed = 0;
  EventFormat event_format = EventFormat::kProtobuf;
  ParseOptions parse;
  // The keys seeds are derived from (never null in a running writer). New lotteries are seeded
  // with the active key and store only its id; a stored lottery whose key id is not held fails
  // the batch with kFailedPrecondition (the writer turns not ready) instead of being drawn.
  std::shared_ptr<const SeedKeyring> seed_keys;
};

using TopicPartition = std::pair<std::string, int32_t>;

struct BatchInput {
  std::vector<RawMessage> messages;  // consumption order
  // What the caller believes is stored in consumer_offset for each partition it consumed from;
  // nullopt = no row (the partition started at the beginning of the log).
  std::map<TopicPartition, std::optional<int64_t>> expected;
};

// The counts of a committed batch.
struct BatchResult {
  uint64_t consumed = 0, entries = 0, duplicates = 0, rejected = 0, skipped = 0;
  // Repeats of an event id with another body (also counted in `rejected`).
  uint64_t conflicting_duplicates = 0;
  // Skipped records by (sanitized) eventType; the caller bounds the label set (skip_labels.h).
  std::map<std::string, uint64_t> skipped_by_type;
  uint64_t lotteries_opened = 0, lotteries_started = 0, lotteries_finished = 0, awards = 0;
  uint64_t draw_failures = 0;
  std::map<TopicPartition, int64_t> next_offsets;  // the committed positions
};

// A batch that was not applied: PostgreSQL holds other offsets than the caller expected.
struct Fenced {
  std::map<TopicPartition, int64_t> stored;  // the stored offsets that differed
};

// Committed (the counts) or fenced (nothing written).
using BatchOutcome = std::variant<BatchResult, Fenced>;

// Runs the batch transaction (BEGIN ... COMMIT) on `conn`. See the contract above.
absl::StatusOr<BatchOutcome> ApplyBatch(PGconn* conn, const BatchInput& input,
                                        const IngestOptions& options);

// Draws every lottery left `started` (by an older version or a draw that failed), each in its
// own transaction under its game's lock. Returns how many were finished.
absl::StatusOr<int> DrawLeftoverLotteries(PGconn* conn, const IngestOptions& options);

// Reads stored offsets for partitions (absent = no row).
absl::StatusOr<std::map<TopicPartition, int64_t>> ReadOffsets(
    PGconn* conn, const std::string& consumer_group, const std::vector<TopicPartition>& partitions);

// Deletes up to `limit` outbox rows older than `retention_seconds`; returns how many.
absl::StatusOr<int64_t> PruneOutbox(PGconn* conn, int64_t retention_seconds, int limit);

}  // namespace lottery::writer
