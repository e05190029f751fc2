// Publishing generated stakes: an idempotent librdkafka producer that waits for every delivery.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "lottery/common/kafka.h"
#include "stakegen.h"

namespace lottery::stakegen {

struct PublishConfig {
  std::string bootstrap;
  std::string topic;        // full topic name (prefix already applied)
  kafka::Properties props;  // pass-through librdkafka properties, applied last
  int flush_timeout_ms = 60'000;
};

// What one Publish did. `sent` counts messages the broker acknowledged (valid + duplicates +
// malformed), `failed` those whose delivery failed.
struct Summary {
  std::string topic;
  Format format = Format::kJson;
  int64_t sent = 0;
  int64_t valid = 0;
  int64_t duplicates = 0;
  int64_t malformed = 0;
  int64_t failed = 0;
  double elapsed_s = 0;
  double rate = 0;          // sent / elapsed_s
  std::string first_error;  // a delivery error of this call, if any

  std::string ToJson() const;  // one line, e.g. {"topic":"player.v1.staked","sent":100,...}
};

class Publisher {
 public:
  // kInvalidArgument for a bad property.
  static absl::StatusOr<std::unique_ptr<Publisher>> Create(const PublishConfig& config);
  ~Publisher();

  // Produces `count` messages from `gen`, paced at `rate` messages per second (0: as fast as
  // possible), then waits until every one is delivered or failed. `stop` (optional) is checked
  // between messages: a stop publishes no more, but still waits for what is in flight.
  // kUnavailable when deliveries are still outstanding after flush_timeout_ms. Thread-safe
  // (concurrent calls run one after the other).
  absl::StatusOr<Summary> Publish(Generator& gen, int64_t count, double rate,
                                  const std::function<bool()>& stop = {});

  const std::string& topic() const { return config_.topic; }

 private:
  explicit Publisher(PublishConfig config) : config_(std::move(config)) {}
  static void OnDelivery(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);

  PublishConfig config_;
  kafka::KafkaPtr producer_;
  std::mutex publish_mu_;
  std::atomic<int64_t> delivered_{0};
  std::atomic<int64_t> failed_{0};
  std::mutex error_mu_;
  std::string last_error_;
};

}  // namespace lottery::stakegen
