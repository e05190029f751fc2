// The run loop's view of its own health: readiness (/readyz, health.h), the idle check of the
// PostgreSQL connection, and the consumer lag from the broker's high watermarks (asked for by
// WatermarkProbe, off the run loop).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lottery/writer/watermark_probe.h"
#include "lottery/writer/writer.h"
#include "spdlog/spdlog.h"

namespace lottery::writer {

namespace {

// Without a committed batch for this long, a cheap query proves the connection.
constexpr absl::Duration kPingEvery = absl::Seconds(1);

}  // namespace

void Writer::PublishHealth() {
  const bool ready = health_.ready();
  if (ready != ready_.load() || health_.reason() != logged_reason_) {
    if (ready) {
      spdlog::info("ready");
    } else {
      spdlog::warn("not ready: {}", health_.reason());
    }
    logged_reason_ = health_.reason();
  }
  ready_ = ready;
  metrics_.ready.Set(ready ? 1 : 0);
}

void Writer::CheckPgWhileIdle() {
  const absl::Time now = absl::Now();
  if (now - last_pg_ok_ < kPingEvery || now - last_ping_ < kPingEvery) return;
  last_ping_ = now;
  absl::Status st;
  if (pg_ == nullptr) {
    // One attempt per period: while idle, nothing waits for the connection but /readyz.
    auto conn = lottery::pg::Connect(config_.pg_dsn);
    if (conn.ok()) {
      pg_ = std::move(*conn);
      spdlog::info("connected to PostgreSQL");
    } else {
      st = conn.status();
    }
  }
  if (st.ok()) st = lottery::pg::ExecCommand(pg_.get(), "SELECT 1");
  if (st.ok()) {
    last_pg_ok_ = now;
    health_.PgConnected();
  } else {
    pg_.reset();
    health_.PgLost(st);
  }
  PublishHealth();
}

void Writer::ProbeAssigned() {
  if (probe_ == nullptr) return;
  std::vector<TopicPartition> partitions;
  for (const auto& [tp, pos] : position_) partitions.push_back(tp);
  probe_->SetPartitions(std::move(partitions));
}

void Writer::RefreshLag() {
  const std::map<TopicPartition, Watermarks> answers =
      probe_ != nullptr ? probe_->Latest() : std::map<TopicPartition, Watermarks>{};
  int64_t total = 0;
  for (const auto& [tp, pos] : position_) {
    auto [it, fresh] = watermarks_.try_emplace(tp, -1, -1);
    auto& [low, high] = it->second;
    int64_t lo = -1, hi = -1;
    auto answer = answers.find(tp);
    if (answer != answers.end() && answer->second.answer != probe_answer_[tp]) {
      // A new answer of the broker: its word, also after a truncation.
      probe_answer_[tp] = answer->second.answer;
      low = answer->second.low, high = answer->second.high;
    } else if (rd_kafka_get_watermark_offsets(consumer_.get(), tp.first.c_str(), tp.second, &lo,
                                              &hi) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      low = std::max(low, lo), high = std::max(high, hi);  // from fetch responses, may lag behind
    }
    if (high < 0) continue;
    const int64_t lag = PartitionLag(low, high, pos);
    total += lag;
    auto& g = lag_by_partition_[tp.second];
    if (g == nullptr) {
      g = &metrics_.registry.AddGauge(
          absl::StrCat("lottery_writer_partition_lag{partition=\"", tp.second, "\"}"),
          "records behind the high watermark, this partition");
    }
    g->Set(static_cast<double>(lag));
  }
  for (auto& [partition, g] : lag_by_partition_) {
    bool assigned = false;
    for (const auto& [tp, pos] : position_) assigned |= tp.second == partition;
    if (!assigned) g->Set(0);  // another writer owns it now and reports it
  }
  metrics_.lag.Set(static_cast<double>(total));
}

}  // namespace lottery::writer
