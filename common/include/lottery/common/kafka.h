// librdkafka handles, declared once (as userver's kafka holders do), and small helpers.
#pragma once

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
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

}  // namespace lottery::kafka
