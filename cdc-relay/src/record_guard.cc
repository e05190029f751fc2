#include "lottery/cdc/record_guard.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace lottery::cdc {

namespace {
// Room left for the record's framing (librdkafka counts a per-message overhead).
constexpr size_t kFramingBytes = 512;
constexpr size_t kMaxTopicLength = 249;

std::string Shown(std::string_view s) {
  std::string shown = absl::CHexEscape(absl::string_view(s.data(), std::min<size_t>(s.size(), 80)));
  return s.size() > 80 ? absl::StrCat("\"", shown, "\"... (", s.size(), " bytes)")
                       : absl::StrCat("\"", shown, "\"");
}
}  // namespace

const char* RecordErrorLabel(RecordError e) {
  switch (e) {
    case RecordError::kNone:
      return "none";
    case RecordError::kInvalidTopic:
      return "invalid_topic";
    case RecordError::kTooLarge:
      return "too_large";
    case RecordError::kBadHeaders:
      return "bad_headers";
    case RecordError::kReservedHeader:
      return "reserved_header";
    case RecordError::kRejectedByKafka:
      return "rejected_by_kafka";
  }
  return "unknown";
}

bool IsValidTopicName(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxTopicLength || topic == "." || topic == "..") {
    return false;
  }
  return std::all_of(topic.begin(), topic.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

size_t RecordSize(std::string_view key, std::string_view value,
                  const std::vector<std::pair<std::string, std::string>>& headers) {
  size_t n = key.size() + value.size() + kFramingBytes;
  for (const auto& [k, v] : headers) n += k.size() + v.size() + 8;
  return n;
}

RecordCheck CheckRecord(const OutboxEvent& e, size_t max_record_bytes) {
  if (!IsValidTopicName(e.topic)) {
    return {RecordError::kInvalidTopic,
            absl::StrCat("topic ", Shown(e.topic), " is not a valid Kafka topic name")};
  }
  // Headers are checked before the size: a record that is too large is measured with them.
  if (!e.bad_headers.empty()) {
    return {RecordError::kBadHeaders, absl::StrCat("column headers: ", e.bad_headers)};
  }
  for (const auto& [k, v] : e.headers) {
    for (std::string_view reserved : kReservedHeaders) {
      if (k == reserved) {
        return {RecordError::kReservedHeader,
                absl::StrCat("column headers sets the relay's own header \"", k, "\"")};
      }
    }
  }
  // The relay adds its six headers (EventHeaders): count them with a generous 128 bytes.
  size_t size = RecordSize(e.aggregateid, e.payload, e.headers) + 128 + e.id.size() +
                e.type.size() + e.aggregatetype.size() + e.content_type.size();
  if (size > max_record_bytes) {
    return {RecordError::kTooLarge,
            absl::StrCat("record of about ", size, " bytes exceeds the limit of ", max_record_bytes,
                         " (payload ", e.payload.size(), " bytes)")};
  }
  return {};
}

KafkaRecord DeadLetterRecord(const OutboxEvent& e, Lsn commit_end_lsn, const RecordCheck& why,
                             const std::string& dead_letter_topic, size_t max_record_bytes) {
  KafkaRecord r;
  r.topic = dead_letter_topic;
  // The key and headers come from the row: cap them so the record always fits.
  r.key = e.aggregateid.substr(0, 256);
  r.headers = {
      {"id", e.id.substr(0, 64)},
      {"seq", absl::StrCat(e.seq)},
      {"lsn", FormatLsn(commit_end_lsn)},
      {"txid", e.txid.substr(0, 32)},
      {"original-topic", e.topic.substr(0, 300)},
      {"messageType", e.type.substr(0, 256)},
      {"error", RecordErrorLabel(why.error)},
      {"error-detail", why.detail.substr(0, 1024)},
      {"payload-length", absl::StrCat(e.payload.size())},
      {"payload-truncated", "false"},
  };
  size_t room = RecordSize(r.key, "", r.headers);
  room = max_record_bytes > room ? max_record_bytes - room : 0;
  r.value = e.payload.substr(0, room);
  if (r.value.size() < e.payload.size()) r.headers.back().second = "true";
  return r;
}

}  // namespace lottery::cdc
