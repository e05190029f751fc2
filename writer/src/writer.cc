#include "lottery/writer/writer.h"

#include <algorithm>
#include <functional>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "lottery/common/status.h"
#include "lottery/writer/lanes.h"
#include "lottery/writer/start_offset.h"
#include "lottery/writer/watermark_probe.h"
#include "spdlog/spdlog.h"

namespace lottery::writer {

namespace {

constexpr absl::Duration kHousekeepingEvery = absl::Seconds(10);
// The broker is asked for the lag's high watermarks this often (one request per partition), off
// the run loop (watermark_probe.h).
constexpr absl::Duration kLagQueryEvery = absl::Seconds(2);
// Longer than the consumer's fetch.wait.max.ms (500), which a query may wait behind; also how
// long a stop may wait for the probe.
constexpr int kWatermarkTimeoutMs = 1000;
// A batch is split over connections only when each lane gets at least this many records: a
// quiet stream's small batches stay one transaction (lanes.h).
constexpr size_t kMinRecordsPerLane = 500;
// How long an extra connection that could not be made is not tried again.
constexpr absl::Duration kLaneConnectRetry = absl::Seconds(30);

RawMessage CopyMessage(const rd_kafka_message_t* m) {
  RawMessage out;
  out.topic = rd_kafka_topic_name(m->rkt);
  out.partition = m->partition;
  out.offset = m->offset;
  if (m->payload == nullptr) {
    out.value_is_null = true;
  } else {
    out.value.assign(static_cast<const char*>(m->payload), m->len);
  }
  out.headers = kafka::MessageHeaders(m);
  return out;
}

}  // namespace

Writer::Writer(const WriterConfig& config, IngestOptions options,
               lottery::metrics::Registry& registry)
    : config_(config), options_(std::move(options)), metrics_(registry) {}

Writer::~Writer() = default;

absl::StatusOr<std::unique_ptr<Writer>> Writer::Create(const WriterConfig& config,
                                                       lottery::metrics::Registry& registry) {
  ASSIGN_OR_RETURN(IngestOptions options, MakeIngestOptions(config));
  // Key ids only: key material is never logged.
  spdlog::info("seed keys held: {}; new lotteries are seeded with '{}'",
               absl::StrJoin(options.seed_keys->ids(), ","), options.seed_keys->active_id());
  if (config.pg_dsn.empty()) return absl::InvalidArgumentError("--pg-dsn is not set");
  ASSIGN_OR_RETURN(lottery::kafka::Properties props, MakeConsumerProperties(config));
  std::unique_ptr<Writer> w(new Writer(config, std::move(options), registry));
  ASSIGN_OR_RETURN(w->retention_seconds_, ParseRetention(config.outbox_retention));
  ASSIGN_OR_RETURN(lottery::kafka::ConfPtr conf, lottery::kafka::MakeConf(props));
  rd_kafka_conf_set_rebalance_cb(conf.get(), &Writer::RebalanceCb);
  rd_kafka_conf_set_opaque(conf.get(), w.get());
  ASSIGN_OR_RETURN(w->consumer_, lottery::kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(conf)));
  rd_kafka_poll_set_consumer(w->consumer_.get());
  return w;
}

void Writer::Sleep(absl::Duration d, const std::atomic<bool>* stop) {
  absl::Time until = absl::Now() + d;
  while (absl::Now() < until && (stop == nullptr || !stop->load())) {
    absl::SleepFor(std::min(absl::Milliseconds(50), until - absl::Now()));
  }
}

bool Writer::EnsurePg(const std::atomic<bool>* stop) {
  while (pg_ == nullptr || PQstatus(pg_.get()) != CONNECTION_OK) {
    if (stop != nullptr && stop->load()) return false;
    pg_.reset();
    auto conn = lottery::pg::Connect(config_.pg_dsn);
    if (conn.ok()) {
      pg_ = std::move(*conn);
      backoff_.Reset();
      spdlog::info("connected to PostgreSQL");
      last_pg_ok_ = absl::Now();
      health_.PgConnected();
      PublishHealth();
      break;
    }
    health_.PgLost(conn.status());
    PublishHealth();
    const absl::Duration delay = backoff_.Next();
    spdlog::warn("PostgreSQL unavailable ({}), retrying in {}", conn.status().ToString(),
                 absl::FormatDuration(delay));
    Sleep(delay, stop);
  }
  return true;
}

void Writer::RebalanceCb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t* parts, void* opaque) {
  auto* self = static_cast<Writer*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->OnAssign(rk, parts);
  } else {
    self->OnRevoke(parts);
    rd_kafka_assign(rk, nullptr);
  }
}

void Writer::OnAssign(rd_kafka_t* rk, rd_kafka_topic_partition_list_t* parts) {
  std::vector<TopicPartition> tps;
  tps.reserve(parts->cnt);
  for (int i = 0; i < parts->cnt; ++i)
    tps.emplace_back(parts->elems[i].topic, parts->elems[i].partition);
  // PostgreSQL is the source of truth: keep trying until it answers (or we are told to stop,
  // in which case nothing is assigned and nothing is consumed).
  absl::StatusOr<std::map<TopicPartition, int64_t>> stored;
  while (true) {
    if (!EnsurePg(stop_)) return;
    stored = ReadOffsets(pg_.get(), options_.consumer_group, tps);
    if (stored.ok()) break;
    spdlog::warn("reading stored offsets failed: {}", stored.status().ToString());
    pg_.reset();
    health_.PgLost(stored.status());
    PublishHealth();
  }
  for (int i = 0; i < parts->cnt; ++i) {
    TopicPartition tp{parts->elems[i].topic, parts->elems[i].partition};
    auto it = stored->find(tp);
    if (it != stored->end()) {
      int64_t low = -1, high = -1;
      if (rd_kafka_query_watermark_offsets(rk, tp.first.c_str(), tp.second, &low, &high, 5000) !=
          RD_KAFKA_RESP_ERR_NO_ERROR) {
        low = high = -1;  // unknown: PostgreSQL's offset stands
      }
      StartOffset start = DecideStartOffset(it->second, low, high);
      if (start.reset) {
        // Compare-and-set: another writer that already moved it wins (the fence check follows).
        absl::Status st = lottery::pg::ExecCommand(
            pg_.get(),
            "UPDATE consumer_offset SET next_offset = $5 WHERE consumer_group = $1 AND topic = $2 "
            "AND partition = $3 AND next_offset = $4",
            {lottery::pg::Param::Text(options_.consumer_group), lottery::pg::Param::Text(tp.first),
             lottery::pg::Param::Text(std::to_string(tp.second)),
             lottery::pg::Param::Text(std::to_string(it->second)),
             lottery::pg::Param::Text(std::to_string(start.offset))});
        if (st.ok()) {
          spdlog::error("{}[{}]: {}", tp.first, tp.second, start.why);
          metrics_.offset_resets.Inc();
          it->second = start.offset;
        } else {
          spdlog::warn("{}[{}]: storing the reset offset failed ({}); keeping {}", tp.first,
                       tp.second, st.ToString(), it->second);
        }
      }
      parts->elems[i].offset = it->second;
      position_[tp] = it->second;
    } else {
      parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
      position_[tp] = std::nullopt;
    }
    spdlog::info("assigned {}[{}] at {}", tp.first, tp.second,
                 it != stored->end() ? std::to_string(it->second)
                                     : std::string("beginning (no stored offset)"));
  }
  rd_kafka_assign(rk, parts);
  ProbeAssigned();
  last_activity_ = absl::Now();
}

void Writer::OnRevoke(rd_kafka_topic_partition_list_t* parts) {
  for (int i = 0; i < parts->cnt; ++i) {
    TopicPartition tp{parts->elems[i].topic, parts->elems[i].partition};
    position_.erase(tp);
    spdlog::info("revoked {}[{}]", tp.first, tp.second);
  }
  ProbeAssigned();
  if (pending_ != nullptr) {
    std::erase_if(*pending_, [&](const RawMessage& m) {
      return !position_.count({m.topic, m.partition});
    });
  }
}

void Writer::Seek(const TopicPartition& tp, int64_t offset) {
  lottery::kafka::TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), tp.first.c_str(), tp.second)->offset = offset;
  lottery::kafka::ErrorPtr err(rd_kafka_seek_partitions(consumer_.get(), list.get(), 5000));
  if (err != nullptr)
    spdlog::warn("seek {}[{}] to {}: {}", tp.first, tp.second, offset,
                 rd_kafka_error_string(err.get()));
}

PGconn* Writer::LaneConnection(size_t k) {
  if (lane_pg_.size() <= k) lane_pg_.resize(k + 1);
  lottery::pg::ConnPtr& conn = lane_pg_[k];
  if (conn != nullptr && PQstatus(conn.get()) == CONNECTION_OK) return conn.get();
  conn.reset();
  if (absl::Now() < lane_connect_after_) return nullptr;
  auto made = lottery::pg::Connect(config_.pg_dsn);
  if (!made.ok()) {
    lane_connect_after_ = absl::Now() + kLaneConnectRetry;
    spdlog::warn(
        "PostgreSQL connection {} of {} could not be made ({}); its share of each batch runs on "
        "the first connection, after the first share, until it can (retried in {})",
        k + 2, config_.pg_connections, made.status().ToString(),
        absl::FormatDuration(kLaneConnectRetry));
    return nullptr;
  }
  conn = std::move(*made);
  return conn.get();
}

void Writer::RunLanes(std::vector<LaneAttempt>& lanes) {
  auto apply = [this](PGconn* conn, LaneAttempt& lane) {
    const absl::Time t0 = absl::Now();
    lane.outcome = ApplyBatch(conn, lane.input, options_);
    lane.took = absl::Now() - t0;
  };
  std::vector<std::thread> threads;
  std::vector<size_t> on_primary = {0};
  for (size_t i = 1; i < lanes.size(); ++i) {
    PGconn* conn = LaneConnection(i - 1);
    if (conn == nullptr) {
      on_primary.push_back(i);
      continue;
    }
    lanes[i].conn = i;
    threads.emplace_back(apply, conn, std::ref(lanes[i]));
  }
  for (size_t i : on_primary) apply(pg_.get(), lanes[i]);
  for (std::thread& t : threads) t.join();
}

bool Writer::CommitBatch(std::vector<RawMessage>& batch, const std::atomic<bool>& stop) {
  while (!batch.empty()) {
    if (!EnsurePg(&stop)) return false;
    const size_t records_in_batch = batch.size();
    std::vector<LaneAttempt> lanes;
    for (std::vector<RawMessage>& records :
         SplitIntoLanes(std::move(batch), config_.pg_connections, kMinRecordsPerLane)) {
      LaneAttempt& lane = lanes.emplace_back();
      for (const RawMessage& m : records) {
        TopicPartition tp{m.topic, m.partition};
        if (!lane.input.expected.count(tp)) lane.input.expected[tp] = position_[tp];
      }
      lane.input.messages = std::move(records);
    }
    batch.clear();
    if (lanes.size() > 1)
      spdlog::debug("batch of {} records over {} connections", records_in_batch, lanes.size());
    RunLanes(lanes);
    // What did not commit is redone: it goes back into `batch`, lane by lane (a partition is in
    // one lane only, so each partition's records stay in order). Commits are accounted first,
    // so that health's last word on a mixed round is the failure.
    std::vector<LaneAttempt*> failed;
    for (LaneAttempt& lane : lanes) {
      std::vector<RawMessage>& records = lane.input.messages;
      if (!lane.outcome.ok()) {
        failed.push_back(&lane);
        continue;
      }
      if (const auto* fenced = std::get_if<Fenced>(&*lane.outcome)) {
        for (const auto& [tp, stored] : fenced->stored) {
          spdlog::warn("{}[{}]: PostgreSQL holds offset {}, not ours; seeking there", tp.first,
                       tp.second, stored);
          metrics_.fenced.Inc();
          position_[tp] = stored;
          Seek(tp, stored);
          // A named copy: lambdas capturing structured bindings need clang >= 16.
          const TopicPartition& fenced_tp = tp;
          std::erase_if(records, [&](const RawMessage& m) {
            return m.topic == fenced_tp.first && m.partition == fenced_tp.second;
          });
        }
        batch.insert(batch.end(), std::make_move_iterator(records.begin()),
                     std::make_move_iterator(records.end()));
        continue;
      }
      const BatchResult* r = &std::get<BatchResult>(*lane.outcome);
      backoff_.Reset();
      last_commit_ = last_pg_ok_ = absl::Now();
      health_.BatchCommitted();
      PublishHealth();
      metrics_.txn_seconds.Observe(absl::ToDoubleSeconds(lane.took));
      lottery::kafka::TopicPartitionListPtr offsets(
          rd_kafka_topic_partition_list_new(r->next_offsets.size()));
      for (const auto& [tp, next] : r->next_offsets) {
        position_[tp] = next;
        rd_kafka_topic_partition_list_add(offsets.get(), tp.first.c_str(), tp.second)->offset =
            next;
      }
      RefreshLag();  // before the counters: who sees them sees this lag
      metrics_.CountBatch(*r);
      spdlog::debug(
          "committed batch: {} records, {} entries, {} duplicates, {} rejected, {} skipped, {} "
          "awards",
          r->consumed, r->entries, r->duplicates, r->rejected, r->skipped, r->awards);
      if (config_.commit_to_kafka) rd_kafka_commit(consumer_.get(), offsets.get(), /*async=*/1);
    }
    if (failed.empty()) continue;
    bool only_aborted = true;  // serialization failures and deadlocks are redone at once
    for (LaneAttempt* lane : failed) {
      const absl::Status& status = lane->outcome.status();
      std::vector<RawMessage>& records = lane->input.messages;
      metrics_.retries.Inc();
      spdlog::warn("batch of {} records not committed, redoing it: {}", records.size(),
                   status.ToString());
      health_.BatchFailed(status);
      if (status.code() == absl::StatusCode::kUnavailable) {
        if (lane->conn == 0) {
          pg_.reset();
          health_.PgLost(status);
        } else {
          lane_pg_[lane->conn - 1].reset();
        }
      }
      if (status.code() != absl::StatusCode::kAborted) only_aborted = false;
      batch.insert(batch.end(), std::make_move_iterator(records.begin()),
                   std::make_move_iterator(records.end()));
    }
    PublishHealth();
    RefreshLag();  // the backlog grows while nothing commits
    if (!only_aborted) Sleep(backoff_.Next(), &stop);
    if (stop.load() && (pg_ == nullptr || !only_aborted)) return false;
  }
  return true;
}

void Writer::Housekeeping(bool force) {
  if (!force && absl::Now() - last_housekeeping_ < kHousekeepingEvery) return;
  last_housekeeping_ = absl::Now();
  if (pg_ == nullptr) return;
  if (retention_seconds_ > 0) {
    // Small batches, so the prune never holds many locks or a long transaction.
    for (int i = 0; i < 10; ++i) {
      auto n = PruneOutbox(pg_.get(), retention_seconds_, 1000);
      if (!n.ok()) {
        spdlog::warn("outbox prune failed: {}", n.status().ToString());
        break;
      }
      metrics_.pruned.Inc(*n);
      if (*n < 1000) break;
    }
  }
}

absl::Status Writer::Run(const std::atomic<bool>& stop) {
  stop_ = &stop;
  if (!EnsurePg(&stop)) return absl::OkStatus();
  // Lotteries left started (an older version, a failed draw) are drawn before anything else.
  for (int attempt = 0;; ++attempt) {
    auto n = DrawLeftoverLotteries(pg_.get(), options_);
    if (n.ok()) {
      if (attempt > 0) health_.BatchCommitted();  // clears the failure reported below
      if (*n > 0) spdlog::info("drew {} lotteries left started", *n);
      metrics_.finished.Inc(*n);
      metrics_.awards.Inc(*n);
      break;
    }
    // Not ready meanwhile (not subscribed yet; a refusal such as a seed key id this writer does
    // not hold is also the reason /readyz gives). Never skipped: redone with backoff.
    spdlog::error("drawing leftover lotteries failed: {}", n.status().ToString());
    health_.BatchFailed(n.status());
    if (n.status().code() == absl::StatusCode::kUnavailable) {
      pg_.reset();
      health_.PgLost(n.status());
    }
    PublishHealth();
    Sleep(backoff_.Next(), &stop);
    if (stop.load() || !EnsurePg(&stop)) return absl::OkStatus();
  }
  backoff_.Reset();
  const std::string topic = config_.topic_prefix + config_.stake_topic;
  probe_ = std::make_unique<WatermarkProbe>(consumer_.get(), kLagQueryEvery, kWatermarkTimeoutMs);
  {
    lottery::kafka::TopicPartitionListPtr sub(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(sub.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), sub.get());
    if (err) return lottery::kafka::StatusFromCode(err, "subscribe");
  }
  spdlog::info("consuming {} as group {}", topic, options_.consumer_group);
  health_.Subscribed(true);
  PublishHealth();

  int64_t total = 0;
  std::vector<RawMessage> batch;
  pending_ = &batch;
  bool done = false;
  while (!done) {
    // --- Collect a batch: up to batch_size records or batch_linger_ms after the first one.
    absl::Time first = absl::InfiniteFuture();
    const int64_t limit = config_.max_messages > 0
                              ? std::min<int64_t>(config_.batch_size, config_.max_messages - total)
                              : config_.batch_size;
    while (static_cast<int64_t>(batch.size()) < limit && !stop.load()) {
      absl::Duration wait = absl::Milliseconds(100);
      if (!batch.empty()) {
        wait = first + absl::Milliseconds(config_.batch_linger_ms) - absl::Now();
        if (wait <= absl::ZeroDuration()) break;
      }
      lottery::kafka::MessagePtr m(rd_kafka_consumer_poll(
          consumer_.get(), static_cast<int>(absl::ToInt64Milliseconds(wait)) + 1));
      if (m == nullptr) {
        if (batch.empty()) break;  // idle: go check stop conditions and housekeeping
        continue;
      }
      if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
          spdlog::warn("consumer: {}", rd_kafka_message_errstr(m.get()));
        }
        continue;
      }
      TopicPartition tp{rd_kafka_topic_name(m->rkt), m->partition};
      auto pos = position_.find(tp);
      if (pos == position_.end()) continue;                               // not (or no longer) ours
      if (pos->second.has_value() && m->offset < *pos->second) continue;  // already applied
      if (batch.empty()) first = absl::Now();
      batch.push_back(CopyMessage(m.get()));
    }
    if (!batch.empty()) {
      last_activity_ = absl::Now();
      const int64_t n = static_cast<int64_t>(batch.size());
      if (!CommitBatch(batch, stop)) {
        spdlog::warn("stopping with an uncommitted batch of {} records (it will be redelivered)",
                     n);
        break;
      }
      total += n;
      last_activity_ = absl::Now();  // a long retried commit is not idleness either
    }
    CheckPgWhileIdle();
    RefreshLag();
    Housekeeping(false);
    if (stop.load()) done = true;
    if (config_.max_messages > 0 && total >= config_.max_messages) done = true;
    // Idle counts only while partitions are assigned: a (re)join of the group is not idleness.
    if (position_.empty()) last_activity_ = absl::Now();
    if (config_.exit_when_idle_ms > 0 &&
        absl::Now() - last_activity_ >= absl::Milliseconds(config_.exit_when_idle_ms)) {
      spdlog::info("idle for {} ms, exiting", config_.exit_when_idle_ms);
      done = true;
    }
  }
  pending_ = nullptr;
  spdlog::info("leaving the group after {} records", total);
  health_.Subscribed(false);
  PublishHealth();
  probe_.reset();
  rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_.get());
  if (err) spdlog::warn("consumer close: {}", rd_kafka_err2str(err));
  return absl::OkStatus();
}

}  // namespace lottery::writer
