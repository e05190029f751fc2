#include "lottery/writer/watermark_probe.h"

#include <algorithm>

#include "absl/time/clock.h"

namespace lottery::writer {

WatermarkProbe::WatermarkProbe(rd_kafka_t* rk, absl::Duration every, int timeout_ms)
    : rk_(rk), every_(every), timeout_ms_(timeout_ms), thread_([this] { Loop(); }) {}

WatermarkProbe::~WatermarkProbe() {
  {
    std::lock_guard<std::mutex> lock(mu_);  // set under the lock: the wait cannot miss it
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void WatermarkProbe::SetPartitions(std::vector<TopicPartition> partitions) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    partitions_ = std::move(partitions);
    std::erase_if(latest_, [&](const auto& kv) {
      return std::find(partitions_.begin(), partitions_.end(), kv.first) == partitions_.end();
    });
    partitions_changed_ = true;
  }
  wake_.notify_all();
}

std::map<TopicPartition, Watermarks> WatermarkProbe::Latest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return latest_;
}

void WatermarkProbe::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    const std::vector<TopicPartition> ask = partitions_;
    partitions_changed_ = false;
    lock.unlock();
    std::map<TopicPartition, Watermarks> answers;
    for (const TopicPartition& tp : ask) {
      if (stop_.load()) break;  // a stop waits for one query at most
      int64_t low = -1, high = -1;
      if (rd_kafka_query_watermark_offsets(rk_, tp.first.c_str(), tp.second, &low, &high,
                                           timeout_ms_) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        answers[tp] = Watermarks{low, high, 0};
      }
    }
    lock.lock();
    ++round_;
    for (const auto& [tp, w] : answers) {
      // Only for partitions still asked about: an answer may cross a reassignment.
      if (std::find(partitions_.begin(), partitions_.end(), tp) == partitions_.end()) continue;
      latest_[tp] = Watermarks{w.low, w.high, round_};
    }
    wake_.wait_for(lock, absl::ToChronoMilliseconds(every_),
                   [this] { return stop_ || partitions_changed_; });
  }
}

}  // namespace lottery::writer
