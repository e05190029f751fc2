// librdkafka handles, declared once (as userver's kafka holders do), and small helpers.
#pragma once

#include <librdkafka/rdkafka.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lottery::kafka {

struct KafkaDeleter {
  void operator()(rd_kafka_t* k) const { rd_kafka_destroy(k); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* c) const { rd_kafka_conf_destroy(c); }
};
struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct DeleteTopicDeleter {
  void operator()(rd_kafka_DeleteTopic_t* t) const { rd_kafka_DeleteTopic_destroy(t); }
};
using KafkaPtr = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using ConfPtr = std::unique_ptr<rd_kafka_conf_t, ConfDeleter>;
using TopicPartitionListPtr =
    std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;

using Properties = std::map<std::string, std::string>;

// Builds a configuration from properties; kInvalidArgument names the bad property.
absl::StatusOr<ConfPtr> MakeConf(const Properties& props);

// Creates a producer or consumer handle (takes ownership of conf on success).
absl::StatusOr<KafkaPtr> MakeClient(rd_kafka_type_t type, ConfPtr conf);

// Maps an rd_kafka_error_t (transactional API) to a Status:
// txn_requires_abort -> kAborted, fatal/fenced -> kFailedPrecondition, retriable -> kUnavailable.
absl::Status StatusFromError(const rd_kafka_error_t* err, const char* what);
// Maps a plain error code: transport/timeouts -> kUnavailable, others -> kInternal.
absl::Status StatusFromCode(rd_kafka_resp_err_t err, const char* what);

// Parses "key=value" pass-through properties given on the command line (--kafka-prop k=v) or in
// LOTTERY_KAFKA_PROPS ("k=v,k2=v2").
absl::Status AddPropertyAssignment(Properties& props, const std::string& assignment);
absl::Status AddPropertyList(Properties& props, const std::string& comma_separated);

// A record's headers in order; a header without a value is std::nullopt (not "").
std::vector<std::pair<std::string, std::optional<std::string>>> MessageHeaders(
    const rd_kafka_message_t* message);

// Creates topics (idempotent: an existing topic is not an error). For tests, tools and the demo.
absl::Status CreateTopics(const std::string& bootstrap,
                          const std::map<std::string, int>& partitions_by_topic,
                          const Properties& topic_config = {});
absl::Status DeleteTopics(const std::string& bootstrap, const std::vector<std::string>& topics);

// ---- The three loops every Kafka client here needs, written once. ----

// The partition ids of `topic` from the cluster's metadata; empty when the topic does not exist.
absl::StatusOr<std::vector<int32_t>> PartitionIds(rd_kafka_t* rk, const std::string& topic,
                                                  std::chrono::milliseconds timeout);

// Assigns every partition of `topic` to the consumer `rk`, each at `offset` (for example
// RD_KAFKA_OFFSET_BEGINNING); kNotFound when the topic does not exist.
absl::Status AssignAllPartitions(rd_kafka_t* rk, const std::string& topic, int64_t offset,
                                 std::chrono::milliseconds timeout);

using Header = std::pair<std::string, std::string>;

// One record to produce. The views only need to live through the Produce call (it copies).
struct OutRecord {
  std::string_view topic;
  std::optional<std::string_view> key;    // nullopt: no key
  std::optional<std::string_view> value;  // nullopt: a null value (a tombstone)
  std::span<const Header> headers;
  int32_t partition = RD_KAFKA_PARTITION_UA;
  void* opaque = nullptr;  // handed to the delivery report
};

// Enqueues `record`. While the local queue is full (the brokers do not keep up, or are away) it
// serves delivery reports and tries again until `deadline`, then gives kUnavailable. Any other
// refusal is mapped by StatusFromCode; `refused` (when given) receives the raw code, so a caller
// with its own error rules (a transactional producer) can tell a bad record from a broken one.
absl::Status Produce(rd_kafka_t* rk, const OutRecord& record,
                     std::chrono::steady_clock::time_point deadline,
                     rd_kafka_resp_err_t* refused = nullptr);
inline absl::Status Produce(rd_kafka_t* rk, const OutRecord& record,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  return Produce(rk, record, std::chrono::steady_clock::now() + timeout);
}

struct ReadToEndOptions {
  // The connection properties are taken from here (bootstrap.servers, client.id, security.*,
  // sasl.*, ssl.*); everything else a reader needs is set by ReadToEnd.
  Properties client;
  std::string group_id;  // never committed to; names the reader in the broker's logs
  // Where each partition starts: the beginning, or the first record at or after this time.
  std::optional<int64_t> since_unix_ms;
  std::chrono::milliseconds timeout = std::chrono::seconds(30);
  // The end of each partition is fixed when the read starts, so a busy producer cannot keep the
  // reader chasing it. With 0, the end is what read_committed shows then (its last stable
  // offset). With a grace, the end is the high watermark: a transaction that committed just
  // before the call, whose markers are still being written, is waited for up to `marker_grace`
  // (an open transaction is left behind after it).
  std::chrono::milliseconds marker_grace{0};
};

// Reads every partition of `topics` (a topic that does not exist holds nothing) with
// read_committed, up to the end fixed at the start, and hands each record to `fn`; an error
// from `fn` ends the read with that error. kUnavailable when the end is not reached in time.
absl::Status ReadToEnd(const std::vector<std::string>& topics, const ReadToEndOptions& options,
                       const std::function<absl::Status(const rd_kafka_message_t&)>& fn);

}  // namespace lottery::kafka
