// Asks the broker for the high (and low) watermarks of the assigned partitions, every `every`,
// on a thread of its own. rd_kafka_query_watermark_offsets() waits behind the consumer's
// requests to the same broker: on the run loop's thread it stalled a busy writer for about a
// second every two (a third of its throughput). The run loop reads the latest answers instead.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "lottery/common/kafka.h"
#include "lottery/writer/ingest.h"

namespace lottery::writer {

struct Watermarks {
  int64_t low = -1, high = -1;
  uint64_t answer = 0;  // the probe's round that got this answer (rounds count up from 1)
};

class WatermarkProbe {
 public:
  // `rk` (thread-safe) must outlive the probe; the thread starts at once. Each query waits at
  // most `timeout_ms`, and so does the destructor.
  WatermarkProbe(rd_kafka_t* rk, absl::Duration every, int timeout_ms);
  ~WatermarkProbe();  // stops and joins
  WatermarkProbe(const WatermarkProbe&) = delete;
  WatermarkProbe& operator=(const WatermarkProbe&) = delete;

  // The partitions to ask about from now on (the assignment); asks for new ones at once.
  void SetPartitions(std::vector<TopicPartition> partitions);
  // The latest answer per partition asked about.
  std::map<TopicPartition, Watermarks> Latest() const;

 private:
  void Loop();

  rd_kafka_t* rk_;
  const absl::Duration every_;
  const int timeout_ms_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<bool> stop_{false};  // also read between the queries of a round, unlocked
  bool partitions_changed_ = false;
  std::vector<TopicPartition> partitions_;
  std::map<TopicPartition, Watermarks> latest_;
  uint64_t round_ = 0;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace lottery::writer
