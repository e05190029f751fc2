// Helpers shared by the writer's transaction code (not a public API).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "google/protobuf/message.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/lottery.h"
#include "lottery/domain/prize.h"
#include "lottery/domain/uuid.h"
#include "lottery/writer/ingest.h"
#include "lottery/writer/repeats.h"

namespace lottery::writer::internal {

// Builds a PostgreSQL array literal in text form ("{"a","b",NULL}") for one unnest() column:
// every element is quoted, backslash and double quote escaped.
class ArrayLiteral {
 public:
  void Add(std::string_view text);
  void AddNull() { Sep(), out_ += "NULL"; }
  void Add(int64_t v) { Sep(), out_ += std::to_string(v); }
  void AddUuid(const lottery::domain::Uuid& u) { Add(lottery::domain::FormatUuid(u)); }
  void AddBytea(std::string_view bytes);  // element "\\x<hex>" for a bytea[] column
  std::string Finish() const { return "{" + out_ + "}"; }
  size_t size() const { return n_; }

 private:
  void Sep() {
    if (n_++ > 0) out_ += ',';
  }
  std::string out_;
  size_t n_ = 0;
};

// The same for PostgreSQL's binary array format (array_recv), sent as a binary parameter: no
// text formatting on our side, no parsing on the server's. One dimension, no NULLs.
class BinaryArray {
 public:
  static constexpr uint32_t kBytea = 17, kInt8 = 20, kInt4 = 23, kText = 25, kUuid = 2950,
                            kJsonb = 3802;
  explicit BinaryArray(uint32_t element_oid) : oid_(element_oid) {}
  void AddUuid(const lottery::domain::Uuid& u) {
    Element(reinterpret_cast<const char*>(u.data()), u.size());
  }
  void AddInt4(int32_t v) {
    Be(static_cast<uint32_t>(sizeof v)), Be(static_cast<uint32_t>(v)), ++n_;
  }
  void AddInt8(int64_t v) {
    Be(static_cast<uint32_t>(sizeof v)), Be(static_cast<uint32_t>(static_cast<uint64_t>(v) >> 32)),
        Be(static_cast<uint32_t>(v)), ++n_;
  }
  void AddBytes(std::string_view b) { Element(b.data(), b.size()); }  // bytea, text (UTF-8)
  void AddJsonb(std::string_view json) {  // jsonb binary = version 1 + the text
    Be(static_cast<uint32_t>(json.size() + 1)), data_.push_back('\x01'), data_.append(json), ++n_;
  }
  std::string Finish() const;
  size_t size() const { return n_; }

 private:
  void Be(uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) data_.push_back(static_cast<char>((v >> s) & 0xff));
  }
  void Element(const char* p, size_t len) {
    Be(static_cast<uint32_t>(len)), data_.append(p, len), ++n_;
  }
  uint32_t oid_;
  std::string data_;
  size_t n_ = 0;
};

struct OutboxRow {
  std::string id;  // uuid text (deterministic: UuidV5 of what the row is about)
  std::string aggregatetype, aggregateid, type, topic, content_type;
  std::string payload;  // raw bytes
  std::string headers_json = "{}";
};

// An outbox row for a protobuf event in the configured format.
absl::StatusOr<OutboxRow> EventRow(const IngestOptions& options,
                                   const google::protobuf::Message& msg,
                                   const lottery::domain::Uuid& id, std::string aggregatetype,
                                   std::string aggregateid, std::string type, std::string topic);

// One INSERT of all rows (ON CONFLICT (id) DO NOTHING: a redone transaction repeats ids).
absl::Status InsertOutbox(PGconn* conn, const std::vector<OutboxRow>& rows);

// The advisory lock key of a game: its first 8 bytes as int64.
int64_t GameLockKey(const lottery::domain::Uuid& game);

// The server seed of a stored lottery from its row: derived from the key named by seed_key_id
// (checked against the stored commitment, so a different key under the same id is caught before
// anything is drawn), or, for lotteries created before derived seeds, the stored server_seed.
// kFailedPrecondition when the key id is not held or does not reproduce the commitment;
// kDataLoss on a malformed row.
absl::StatusOr<lottery::domain::Seed> StoredLotterySeed(const IngestOptions& options,
                                                        const lottery::domain::Uuid& lottery_id,
                                                        const PGresult* r, int row, int seed_col,
                                                        int key_id_col, int commitment_col);

// The rules of the given games (a uuid[] literal) and the default (nil UUID) row, whose
// players_needed `default_players_needed` overrides when > 0. kFailedPrecondition naming the row
// when a rule is invalid (players_needed < 2, bps outside 0..10000, unknown mode or policy) or
// the default row is missing: a broken rule stops the batch, it is never silently replaced.
struct GameRules {
  std::map<lottery::domain::Uuid, lottery::domain::GameRule> by_game;
  lottery::domain::GameRule default_rule;
};
absl::StatusOr<GameRules> LoadGameRules(PGconn* conn, const std::string& game_ids_array,
                                        int default_players_needed);

// A started lottery with everything its draw needs.
struct DrawInput {
  lottery::domain::Uuid lottery_id, game_id;
  lottery::domain::DrawMode mode = lottery::domain::DrawMode::kUniform;
  lottery::domain::PrizePolicy policy = lottery::domain::PrizePolicy::kWinnerStake;
  uint32_t bps = 0;
  lottery::domain::Seed seed{};
  std::vector<lottery::domain::Entry> entries;  // entry_no order
  bool emit_started = false;                    // also write the LotteryStarted outbox row
};
struct DrawOutput {
  lottery::domain::Uuid winner;
  lottery::domain::Uuid award_id;
  int64_t win_sum = 0;
};

// Draws in memory and appends the outbox rows (LotteryStarted if asked, AwardCreated). nullopt
// when the domain refuses the draw (counted in draw_failures; the lottery stays started).
absl::StatusOr<std::optional<DrawOutput>> DrawInMemory(const DrawInput& in,
                                                       const IngestOptions& options,
                                                       std::vector<OutboxRow>& outbox,
                                                       BatchResult& result);

// Draws the given started lotteries inside the caller's transaction: lottery -> finished,
// entries -> winner/finished, one lottery_award, the AwardCreated outbox row; for lotteries in
// `emit_started` also the LotteryStarted outbox row. A lottery whose draw fails (domain
// kInvalidArgument) stays started and is counted in draw_failures.
absl::Status DrawLotteries(PGconn* conn, const std::vector<lottery::domain::Uuid>& ids,
                           const std::set<lottery::domain::Uuid>& emit_started,
                           const IngestOptions& options, std::vector<OutboxRow>& outbox,
                           BatchResult& result);

// A record of the batch that is rejected, with its reason.
using RejectedRecord = std::pair<const RawMessage*, Rejection>;

// Inserts the rejected_stake rows of `rejections` (ON CONFLICT DO NOTHING: a redone batch
// repeats them) and appends their DLQ outbox rows to `outbox`: each keeps at most kRawKeepBytes
// of the value, with its full length and SHA-256 (KeepRaw).
absl::Status WriteRejections(PGconn* conn, const std::vector<RejectedRecord>& rejections,
                             const IngestOptions& options, std::vector<OutboxRow>& outbox);

// The lottery_entry rows stored under the event ids of `stakes` (for ClassifyRepeats).
absl::StatusOr<StoredStakes> LoadStoredStakes(PGconn* conn, const std::vector<Stake>& stakes);

}  // namespace lottery::writer::internal
