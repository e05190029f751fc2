// The pure middle of the ingest transaction: load -> PLAN -> write.
//
// ApplyBatch (ingest.h) parses the batch (ParseBatch), loads what the batch's games hold under
// their locks (LoadBatchState, a BatchState value), asks PlanBatch what to write, and writes it
// (WriteBatchPlan). PlanBatch does no I/O: every decision of a batch (which stake is a repeat,
// which lottery it joins, when a lottery fills, starts and is drawn, which outbox rows follow)
// is made here, from values, so it is unit-tested without a server (batch_plan_test.cc).
//
// Lifecycle: a lottery moves in_waiting -> started -> finished and only so; every move goes
// through domain::CheckTransition, and an illegal one fails the plan with kInternal (a bug,
// never written). An entry's status follows its lottery's (winner for the drawn player).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/lottery.h"
#include "lottery/domain/uuid.h"
#include "lottery/writer/ingest.h"
#include "lottery/writer/repeats.h"
#include "lottery/writer/stake_parser.h"

namespace lottery::writer {

// ---------------------------------------------------------------- parse

// A stake of the batch with the record it came from (the record outlives the plan).
struct BatchStake {
  const RawMessage* msg = nullptr;
  Stake stake;
};
// A record of the batch that is rejected, with its reason.
using RejectedRecord = std::pair<const RawMessage*, Rejection>;

// Every record of a batch, sorted by what it is, and the offsets the batch covers.
struct ParsedBatch {
  std::vector<BatchStake> stakes;  // consumption order
  std::vector<RejectedRecord> rejections;
  uint64_t consumed = 0, skipped = 0;
  std::map<std::string, uint64_t> skipped_by_type;
  std::map<TopicPartition, int64_t> first_offset, next_offset;
};
ParsedBatch ParseBatch(const std::vector<RawMessage>& messages, const ParseOptions& options);

// ---------------------------------------------------------------- what was loaded

// The rules of the batch's games, and the default (nil UUID) row for games without one.
struct GameRules {
  std::map<lottery::domain::Uuid, lottery::domain::GameRule> by_game;
  lottery::domain::GameRule default_rule;
};

// A lottery of one of the batch's games, as stored when the batch's locks were taken.
struct StoredLottery {
  lottery::domain::Uuid id, game_id;
  lottery::domain::LotteryStatus status = lottery::domain::LotteryStatus::kInWaiting;
  int players_needed = 0;
  lottery::domain::GameRule rule;  // mode, policy, bps (players_needed above)
  lottery::domain::Seed seed{};    // derived from its key id (or an older row's stored seed)
  std::vector<lottery::domain::Entry> entries;  // entry_no order
};

struct BatchState {
  GameRules rules;
  std::vector<StoredLottery> open;      // in_waiting: at most one per game
  std::vector<StoredLottery> leftover;  // started but not drawn (a failed draw, an older version)
  StoredStakes stored;                  // lottery_entry rows under the batch's event ids
};

// ---------------------------------------------------------------- the plan

struct OutboxRow {
  std::string id;  // uuid text (deterministic: UuidV5 of what the row is about)
  std::string aggregatetype, aggregateid, type, topic, content_type;
  std::string payload;  // raw bytes
  std::string headers_json = "{}";
};

struct PlannedAward {
  lottery::domain::Uuid id, lottery_id, winner;
  int64_t win_sum = 0;
};

// A lottery whose row the batch inserts (is_new) or updates.
struct PlannedLottery {
  lottery::domain::Uuid id, game_id;
  bool is_new = false;
  lottery::domain::LotteryStatus status = lottery::domain::LotteryStatus::kInWaiting;
  int players_needed = 0, player_count = 0, entry_count = 0;
  lottery::domain::GameRule rule;
  std::string seed_key_id;               // new lotteries: the key their seed is derived from
  lottery::domain::Digest commitment{};  // new lotteries
  std::optional<PlannedAward> award;     // drawn by this batch
  // Stored entries whose status changes with the lottery's (in_waiting -> started, or drawn).
  bool stored_entries_change = false;
};

struct PlannedEntry {
  lottery::domain::Uuid id, lottery_id, player_id, game_id;  // id = the stake's event id
  int64_t stake_minor = 0;
  lottery::domain::EntryStatus status = lottery::domain::EntryStatus::kInWaiting;
  int entry_no = 0;
  const RawMessage* source = nullptr;
};

// A rejected record with the evidence kept of it (rejected_stake row, DLQ outbox row).
struct PlannedRejection {
  const RawMessage* source = nullptr;
  Rejection rejection;
  RawEvidence raw;  // a bounded prefix of source->value, its length and SHA-256
};

struct BatchPlan {
  // Stored lotteries first, then new ones: one that left in_waiting must leave the unique index
  // "one open lottery per game" before the next one of its game enters it.
  std::vector<PlannedLottery> lotteries;
  std::vector<PlannedEntry> entries;
  std::vector<PlannedRejection> rejections;  // parse rejections, then conflicting duplicates
  std::vector<OutboxRow> outbox;             // in the order the events happened; DLQ rows last
  std::map<TopicPartition, int64_t> next_offsets;
  BatchResult result;                      // the counts (next_offsets included)
  std::vector<std::string> draw_failures;  // "lottery <id>: <why>", for the log
};

// What a plan takes from outside: the clock, fresh lottery ids, the seed keys and the topics.
struct PlanContext {
  absl::Time now;
  std::function<lottery::domain::Uuid()> new_lottery_id;
  const IngestOptions* options = nullptr;  // topics, event format, default players, seed keys
};

// The plan of one batch over `state`. kFailedPrecondition when a new lottery is needed and no
// seed key is configured; kInternal on an illegal lifecycle move (a bug). A lottery whose draw
// the domain refuses stays started, counted in result.draw_failures.
absl::StatusOr<BatchPlan> PlanBatch(const BatchState& state, const ParsedBatch& batch,
                                    const PlanContext& context);

// The advisory lock key of a game (its first 8 bytes as int64). Games are locked, and planned,
// in ascending key order: the same order in every writer, so two writers cannot deadlock.
int64_t GameLockKey(const lottery::domain::Uuid& game);

// The status of an entry of `lottery` held by `player`.
lottery::domain::EntryStatus EntryStatusIn(const PlannedLottery& lottery,
                                           const lottery::domain::Uuid& player);

// An outbox row for a protobuf event in the configured format.
absl::StatusOr<OutboxRow> EventRow(const IngestOptions& options,
                                   const google::protobuf::Message& msg,
                                   const lottery::domain::Uuid& id, std::string aggregatetype,
                                   std::string aggregateid, std::string type, std::string topic);

}  // namespace lottery::writer
