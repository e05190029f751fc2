// Kafka transactions: publishing, dead-lettering, committing and aborting a batch.
#include "relay_session.h"

namespace lottery::cdc::internal {
absl::Status Relay::PublishEvent(const OutboxEvent& event, Lsn commit_end_lsn) {
  RecordCheck check = CheckRecord(event, config_.max_record_bytes);
  if (std::optional<std::string> refused = producer_->Rejected(event.id); check.ok() && refused) {
    check = {RecordError::kRejectedByKafka, *refused};
  }
  if (check.ok()) {
    absl::Status st = KafkaFatal(producer_->Produce(event, commit_end_lsn));
    if (st.code() != absl::StatusCode::kInvalidArgument) return st;
    check = {RecordError::kRejectedByKafka, std::string(st.message())};
  }
  return DeadLetter(event, commit_end_lsn, check);
}

absl::Status Relay::DeadLetter(const OutboxEvent& e, Lsn commit_end_lsn, const RecordCheck& why) {
  std::string row = absl::StrCat("outbox row seq ", e.seq, " id ", e.id, " (commit LSN ",
                                 FormatLsn(commit_end_lsn), ")");
  if (config_.on_record_error == OnRecordError::kStop) {
    return absl::FailedPreconditionError(absl::StrCat(
        row, " can never be published: ", why.detail,
        ". With --on-record-error stop nothing after it is published. `lottery-cdc-relay run "
        "--on-record-error dlq` writes it to ",
        config_.dead_letter_topic,
        " and goes on; once its cause is fixed, `lottery-cdc-relay "
        "recover --from-seq ",
        e.seq, "` republishes it"));
  }
  KafkaRecord record =
      DeadLetterRecord(e, commit_end_lsn, why, config_.dead_letter_topic, config_.max_record_bytes);
  absl::Status st = producer_->Produce(record);
  if (st.code() == absl::StatusCode::kInvalidArgument) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the dead-letter topic ", config_.dead_letter_topic, " refuses records: ", st.message()));
  }
  RETURN_IF_ERROR(KafkaFatal(st));
  spdlog::error(
      "{} cannot be published ({}); dead-lettered to {}. It stays in the outbox table: "
      "`lottery-cdc-relay recover --from-seq {}` republishes it once the cause is fixed",
      row, why.detail, config_.dead_letter_topic, e.seq);
  ++dead_lettered_;
  last_dead_letter_ = absl::StrCat("seq ", e.seq, " id ", e.id, ": ", RecordErrorLabel(why.error),
                                   ": ", why.detail.substr(0, 300));
  pending_dead_letters_.push_back(why.error);
  return absl::OkStatus();
}

absl::Status Relay::CommitWithRetry() {
  while (true) {
    absl::Duration wait = absl::Seconds(5);
    if (stop_.load() && stop_seen_ != absl::InfiniteFuture()) {
      wait = std::clamp(config_.stop_timeout - (absl::Now() - stop_seen_), absl::Milliseconds(100),
                        wait);
    }
    absl::Status st = producer_->Commit(milliseconds(absl::ToInt64Milliseconds(wait)));
    if (st.ok()) break;
    if (st.code() != absl::StatusCode::kUnavailable) return KafkaFatal(st);
    // Kafka unreachable: confirm nothing new, keep the replication connection alive, retry
    // (the same commit: librdkafka resumes it; an abort now would conflict with it). After a
    // stop request, for --stop-timeout at most.
    spdlog::warn("Kafka commit not done yet, retrying: {}", std::string(st.message()));
    if (repl_) (void)SendStatus(false, /*read_stable=*/false);
    if (StopGraceOver()) return st;
  }
  ++commits_;
  committed_dead_lettered_ = dead_lettered_;
  committed_last_dead_letter_ = last_dead_letter_;
  for (RecordError e : pending_dead_letters_) metrics_.DeadLettered(e).Inc();
  pending_dead_letters_.clear();
  std::lock_guard<std::mutex> lock(watch_mu_);
  watch_.OnCommit();
  return absl::OkStatus();
}

absl::Status Relay::SendStatus(bool reply_requested, bool read_stable) {
  if (!repl_) return absl::OkStatus();
  if (read_stable) ReadStableOffsets(milliseconds(500));
  Lsn flush = gate_.Cap(tracker_->confirmable());
  RETURN_IF_ERROR(repl_->SendStatus(std::max(received_, flush), flush, flush, reply_requested));
  spdlog::debug("status update: write {} flush {}{}", FormatLsn(std::max(received_, flush)),
                FormatLsn(flush), reply_requested ? " (reply requested)" : "");
  last_status_ = absl::Now();
  metrics_.confirmed_lsn.Set(static_cast<double>(flush));
  return absl::OkStatus();
}

void Relay::ReadStableOffsets(std::chrono::milliseconds timeout) {
  if (gate_.waiting() == 0) {
    metrics_.unstable_commit_age.Set(0);
    return;
  }
  if (!stable_client_) {
    kafka::Properties props = config_.kafka_props;
    props["isolation.level"] = "read_committed";  // ListOffsets(latest) answers the LSO
    absl::StatusOr<kafka::KafkaPtr> client = [&]() -> absl::StatusOr<kafka::KafkaPtr> {
      ASSIGN_OR_RETURN(auto conf, kafka::MakeConf(props));
      return kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(conf));
    }();
    if (!client.ok()) {  // nothing is confirmed past the waiting commits meanwhile
      spdlog::warn("the client that reads last stable offsets: {}", client.status().ToString());
      return;
    }
    stable_client_ = std::move(*client);
  }
  LastOffsets stable;
  for (const TopicPartitionKey& tp : gate_.Wanted()) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(stable_client_.get(), tp.topic.c_str(), tp.partition, &low,
                                         &high, static_cast<int>(timeout.count()));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) break;  // Kafka busy or away: next status
    stable[tp] = high;
  }
  gate_.OnStable(stable);
  const absl::Time now = absl::Now();
  metrics_.unstable_commit_age.Set(
      gate_.waiting() == 0 ? 0.0 : absl::ToDoubleSeconds(now - gate_.oldest_since()));
  if (now - gate_.oldest_since() > kGateWarnAfter && now - gate_logged_ > kGateWarnAfter) {
    gate_logged_ = now;
    spdlog::error(
        "Kafka acknowledged the commit of {} {} s ago, but does not show its records as stable, "
        "so its LSN is not confirmed to PostgreSQL. Either another producer holds a transaction "
        "open on that partition, or Kafka completed the commit without writing the partition's "
        "marker (docs/delivery.md, \"Known gap\"). In the second case the relay's next commit to "
        "that partition closes the range",
        gate_.Describe(), absl::ToInt64Seconds(now - gate_.oldest_since()));
  }
}

void Relay::DrainGate(absl::Duration max) {
  const absl::Time until = absl::Now() + max;
  while (gate_.waiting() > 0 && absl::Now() < until) {
    ReadStableOffsets(milliseconds(500));
    if (gate_.waiting() > 0) absl::SleepFor(absl::Milliseconds(10));
  }
}

void Relay::SyncIgnoredCounters() {
  const IgnoredChanges& now = assembler_.ignored();
  auto sync = [](metrics::Counter& c, uint64_t now_v, uint64_t& was, const char* what) {
    if (now_v > was) {
      spdlog::warn(
          "{} {} change(s) of the outbox seen and NOT published (the outbox is "
          "insert-only)",
          now_v - was, what);
      c.Inc(now_v - was);
      was = now_v;
    }
  };
  sync(metrics_.updates, now.updates, synced_ignored_.updates, "update");
  sync(metrics_.deletes, now.deletes, synced_ignored_.deletes, "delete");
  sync(metrics_.truncates, now.truncates, synced_ignored_.truncates, "truncate");
  sync(metrics_.messages, now.messages, synced_ignored_.messages, "logical message");
}

absl::Status Relay::CommitBatch() {
  if (partial_xid_) {
    // Committing now would publish part of a PostgreSQL transaction.
    return absl::AbortedError(absl::StrCat("the Kafka transaction holds part of xid ",
                                           *partial_xid_, " (streamed before its Commit)"));
  }
  if (!tracker_->batch_open()) return absl::OkStatus();
  if (producer_->in_transaction()) {
    // A commit that timed out is resumed, not redone: the checkpoint is already in it.
    if (!commit_in_flight_) {
      Checkpoint c;
      c.slot = config_.slot;
      c.lsn = tracker_->batch_end_lsn();
      c.commit_time = tracker_->batch_last_commit_time();
      c.system_id = identity_.system_id;
      c.database = database_;
      c.events = tracker_->batch_events();
      c.written_at_unix_ms = absl::ToUnixMillis(absl::Now());
      c.dead_lettered = dead_lettered_;
      c.last_dead_letter = last_dead_letter_;
      RETURN_IF_ERROR(KafkaFatal(producer_->ProduceCheckpoint(config_.checkpoint_topic, c)));
    }
    absl::Time start = absl::Now();
    commit_in_flight_ = true;
    RETURN_IF_ERROR(CommitWithRetry());
    commit_in_flight_ = false;
    gate_.Committed(tracker_->confirmable(), tracker_->batch_end_lsn(),
                    producer_->committed_offsets(), absl::Now());
    metrics_.commit_seconds.Observe(absl::ToDoubleSeconds(absl::Now() - start));
    spdlog::debug(
        "Kafka transaction committed: {} events of {} PostgreSQL transactions up to {} "
        "in {} ms",
        tracker_->batch_events(), tracker_->batch_txns(), FormatLsn(tracker_->batch_end_lsn()),
        absl::ToDoubleMilliseconds(absl::Now() - start));
    metrics_.kafka_committed.Inc();
    metrics_.events_published.Inc(tracker_->batch_events());
    metrics_.pg_txns_published.Inc(tracker_->batch_txns());
    absl::Time commit_time = FromPgMicros(tracker_->batch_last_commit_time());
    metrics_.last_published_commit_time.Set(absl::ToDoubleSeconds(commit_time - absl::UnixEpoch()));
    metrics_.lag_seconds.Set(std::max(0.0, absl::ToDoubleSeconds(absl::Now() - commit_time)));
  }
  tracker_->Committed();
  return absl::OkStatus();
}

absl::Status Relay::AbortBatch() {
  commit_in_flight_ = false;
  partial_xid_.reset();
  tracker_->Aborted();
  dead_lettered_ = committed_dead_lettered_;
  last_dead_letter_ = committed_last_dead_letter_;
  pending_dead_letters_.clear();
  if (!producer_->in_transaction()) return absl::OkStatus();
  metrics_.kafka_aborted.Inc();
  {
    std::lock_guard<std::mutex> lock(watch_mu_);
    watch_.OnAbort();
  }
  absl::Status st = RetryUnavailable(stop_, "Kafka abort_transaction",
                                     [&] { return producer_->Abort(milliseconds(10000)); });
  producer_->Poll();  // delivery reports: which record (if any) the broker refused for good
  return KafkaFatal(st);
}

}  // namespace lottery::cdc::internal
