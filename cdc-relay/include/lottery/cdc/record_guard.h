// Which outbox rows can never become a Kafka record, and what the relay writes in their place.
// Pure functions, no I/O: the relay (relay.cc) and the initial snapshot call them before producing,
// so one bad row is dead-lettered (or stops the relay, --on-record-error stop) instead of making
// every Kafka transaction abort in a loop. docs/relay.md, "Records that cannot be published".
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lottery/cdc/lsn.h"
#include "lottery/cdc/outbox_event.h"

namespace lottery::cdc {

inline constexpr char kDefaultDeadLetterTopic[] = "lottery.relay.dlq";
// librdkafka's default message.max.bytes; the broker's default (1048588) is a little larger.
inline constexpr size_t kDefaultMaxRecordBytes = 1'000'000;

enum class OnRecordError { kDeadLetter, kStop };

// Why a record can never be produced. The label of lottery_relay_dead_lettered_total{reason}.
enum class RecordError {
  kNone,
  kInvalidTopic,     // empty, > 249 characters, "." / "..", or a character outside [A-Za-z0-9._-]
  kTooLarge,         // key + value + headers above the record limit
  kBadHeaders,       // `headers` is not a flat JSON object of strings
  kReservedHeader,   // `headers` tries to set one of the relay's own headers
  kRejectedByKafka,  // the broker or client refused this record permanently (e.g. its topic)
};
const char* RecordErrorLabel(RecordError e);

// The relay's own headers (publisher.h, EventHeaders); an outbox row may not set them.
inline constexpr std::string_view kReservedHeaders[] = {
    "id", "messageType", "aggregatetype", "content-type", "lsn", "txid"};

// Kafka's topic name rule (kafka.common.internals.Topic.validate).
bool IsValidTopicName(std::string_view topic);

// Bytes a record occupies against message.max.bytes, close to librdkafka's own estimate.
size_t RecordSize(std::string_view key, std::string_view value,
                  const std::vector<std::pair<std::string, std::string>>& headers);

struct RecordCheck {
  RecordError error = RecordError::kNone;
  std::string detail;  // human-readable, names the offending value
  bool ok() const { return error == RecordError::kNone; }
};
// Checks an outbox event against the rules above, in the order of the enum.
RecordCheck CheckRecord(const OutboxEvent& event, size_t max_record_bytes);

struct KafkaRecord {
  std::string topic;
  std::string key;
  std::string value;
  std::vector<std::pair<std::string, std::string>> headers;
};

// The dead-letter record that replaces `event`: key = aggregateid; value = the payload,
// truncated so the whole record fits `max_record_bytes`; headers name the outbox id, seq, the
// commit LSN, the original topic and type, the error and the payload's full length.
KafkaRecord DeadLetterRecord(const OutboxEvent& event, Lsn commit_end_lsn, const RecordCheck& why,
                             const std::string& dead_letter_topic, size_t max_record_bytes);

}  // namespace lottery::cdc
