// The input contract with the game service: one Kafka message of `player.v1.staked` becomes
// exactly one of a Stake, a Rejection (with the reason) or a Skip (another eventType).
//
// Wire forms accepted:
//   JSON (no content-type header, or one starting with "application/json"):
//     {"message":{"eventType":"player.stakeCreated"},
//      "game":{"playerId":"<uuid>","gameId":"<uuid>","stake":"12345"}}
//   binary lottery.v1.StakeCreated (content-type starting with "application/x-protobuf").
// Headers: `uuid` = the event id. Without it, the id is UuidV5(kDerivedIdNamespace,
// "<topic>/<partition>/<offset>"), so a redelivery of the same record gets the same id.
//
// ParseStake is a pure function: no I/O, no logging, no state across calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "lottery/domain/money.h"
#include "lottery/domain/uuid.h"

namespace lottery::writer {

inline constexpr std::string_view kStakeEventType = "player.stakeCreated";
// Values above this are rejected before any parsing ("oversized").
inline constexpr size_t kMaxValueBytes = 64 * 1024;
// A rejected record keeps this much of its value (rejected_stake.raw and the DLQ record), with
// its full length and SHA-256: DLQ records always fit the broker's default limits.
inline constexpr size_t kRawKeepBytes = 64 * 1024;
struct RawEvidence {
  std::string_view kept;  // a prefix of the value, at most kRawKeepBytes
  int64_t length = 0;     // of the whole value
  std::string sha256_hex;
  bool truncated() const { return static_cast<int64_t>(kept.size()) < length; }
};
RawEvidence KeepRaw(std::string_view value);
// Namespace of derived ids, ids of DLQ/outbox rows and awards (fixed forever: ids must repeat).
inline constexpr lottery::domain::Uuid kDerivedIdNamespace = {
    0x6c, 0x6f, 0x74, 0x74, 0x65, 0x72, 0x79, 0x2d, 0x81, 0x72, 0x69, 0x74, 0x65, 0x72, 0x2d, 0x31};

// One consumed Kafka record, copied out of librdkafka (so the batch outlives the message).
struct RawMessage {
  std::string topic;
  int32_t partition = 0;
  int64_t offset = 0;
  std::string value;
  bool value_is_null = false;
  // Header name -> value (nullopt for a null header value), in wire order, duplicates kept.
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

struct Stake {
  lottery::domain::Uuid event_id;
  lottery::domain::Uuid player_id;
  lottery::domain::Uuid game_id;
  int64_t stake_minor = 0;
};

struct Rejection {
  std::string reason;    // human-readable, starts with the offending field or layer
  std::string event_id;  // the `uuid` header as text (sanitized), "" when absent
};

struct Skip {
  std::string event_type;  // sanitized
};

using ParseResult = std::variant<Stake, Rejection, Skip>;

struct ParseOptions {
  int64_t max_stake_major = lottery::domain::kDefaultMaxStakeMajor;
};

ParseResult ParseStake(const RawMessage& msg, const ParseOptions& options = {});

// The id a record without a `uuid` header gets.
lottery::domain::Uuid DerivedEventId(std::string_view topic, int32_t partition, int64_t offset);

// Printable-ASCII rendering of untrusted bytes for reasons, logs and text columns: bytes outside
// 0x20..0x7e become \xNN, and the result is cut at `max_len` characters (with "...").
std::string Sanitize(std::string_view bytes, size_t max_len = 200);

// A stake as first stored (or first seen in the batch) under its event id.
struct StakeFields {
  lottery::domain::Uuid player_id;
  lottery::domain::Uuid game_id;
  int64_t stake_minor = 0;
};
// The same event id again: nullopt when it is the same stake (a harmless re-delivery), else the
// rejection reason "conflicting duplicate: ..." naming what differs. Pure.
std::optional<std::string> ConflictingDuplicate(const StakeFields& first, const Stake& again);

}  // namespace lottery::writer
