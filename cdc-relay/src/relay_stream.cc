// The replication stream: assembling transactions, batching, confirming, stopping.
#include "relay_session.h"

namespace lottery::cdc::internal {
absl::Status Relay::OnXLogData(const XLogData& x, bool& force_commit) {
  received_ = std::max(received_, x.wal_end);
  auto message = DecodePgOutput(x.data);
  if (!message.ok()) {
    return absl::DataLossError(absl::StrCat("WAL at ", FormatLsn(x.wal_start),
                                            " does not decode; the relay stops rather than skip "
                                            "it: ",
                                            message.status().message()));
  }
  ASSIGN_OR_RETURN(std::optional<CommittedTxn> txn, assembler_.Feed(*message));
  if (!txn) {
    if (assembler_.buffered_events() >= config_.max_buffered_rows) return StreamOpenTxn();
    return absl::OkStatus();
  }
  metrics_.events_decoded.Inc(txn->events.size());
  SyncIgnoredCounters();
  // Behind when the server sends a transaction well after it committed (same clock).
  tracker_->SetBacklogged(x.send_time - txn->commit_time > kBackloggedMicros);
  BatchTracker::Action action = tracker_->Add(*txn, absl::Now());
  if (action == BatchTracker::Action::kSkip) {
    metrics_.pg_txns_skipped.Inc();
    ++session_skipped_;
    return absl::OkStatus();
  }
  if (session_skipped_ > 0) {
    spdlog::info(
        "skipped {} PostgreSQL transaction(s) the slot re-sent but Kafka already holds "
        "(checkpoint {})",
        session_skipped_, FormatLsn(tracker_->checkpoint()));
    session_skipped_ = 0;
  }
  if (action == BatchTracker::Action::kPublish) {
    // A streamed transaction's records all carry its commit's start LSN (StreamOpenTxn).
    const Lsn lsn_header = txn->streamed_events > 0 ? txn->commit_lsn : txn->end_lsn;
    partial_xid_.reset();  // from here on, the Kafka transaction holds whole PG transactions
    absl::Status st =
        producer_->in_transaction() ? absl::OkStatus() : KafkaFatal(producer_->Begin());
    for (size_t i = 0; st.ok() && i < txn->events.size(); ++i) {
      st = PublishEvent(txn->events[i], lsn_header);
    }
    if (!st.ok() && st.code() != absl::StatusCode::kFailedPrecondition) {
      // Part of this PostgreSQL transaction may be in the Kafka transaction: it must never be
      // committed, so whatever the cause, abort and restart from the confirmed position.
      return absl::AbortedError(absl::StrCat("producing xid ", txn->xid, ": ", st.message()));
    }
    RETURN_IF_ERROR(st);  // fenced/fatal (KafkaFatal marked it) or --on-record-error stop
  }
  if (config_.end_lsn != 0 && txn->end_lsn >= config_.end_lsn) force_commit = true;
  return absl::OkStatus();
}

absl::Status Relay::StreamOpenTxn() {
  const TransactionId xid = assembler_.open_xid();
  const Lsn final_lsn = assembler_.open_final_lsn();
  std::vector<OutboxEvent> chunk = assembler_.TakeBuffered();
  metrics_.events_decoded.Inc(chunk.size());
  if (tracker_->WillSkip(final_lsn)) return absl::OkStatus();  // already in Kafka: dropped
  if (!partial_xid_) {
    // A clean boundary first: the batch before it commits on its own, so the Kafka transaction
    // holds this PostgreSQL transaction alone, and is committed only after its Commit.
    RETURN_IF_ERROR(CommitBatch());
    spdlog::info(
        "xid {} has more than {} outbox rows: streaming it into one Kafka transaction as it is "
        "decoded (its records' lsn header is its commit's start, {})",
        xid, config_.max_buffered_rows, FormatLsn(final_lsn));
    partial_xid_ = xid;
  }
  absl::Status st = producer_->in_transaction() ? absl::OkStatus() : KafkaFatal(producer_->Begin());
  for (size_t i = 0; st.ok() && i < chunk.size(); ++i) st = PublishEvent(chunk[i], final_lsn);
  if (!st.ok() && st.code() != absl::StatusCode::kFailedPrecondition) {
    return absl::AbortedError(absl::StrCat("producing xid ", xid, ": ", st.message()));
  }
  return st;  // fenced/fatal (KafkaFatal marked it) or --on-record-error stop
}

void Relay::PollSlot() {
  last_slot_poll_ = absl::Now();
  if (sql_ == nullptr || PQstatus(sql_.get()) != CONNECTION_OK) {
    auto conn = pg::Connect(config_.pg_dsn);
    if (!conn.ok()) return;
    sql_ = std::move(*conn);
  }
  auto info = InspectSlot(sql_.get(), config_.slot);
  if (!info.ok() && info.status().code() == absl::StatusCode::kUnavailable) {
    sql_.reset();  // a stale connection (server restarted): the next poll reconnects
  }
  if (info.ok()) {
    slot_confirmed_ = info->confirmed_flush_lsn;
    metrics_.lag_bytes.Set(
        info->current_wal_lsn > info->confirmed_flush_lsn
            ? static_cast<double>(info->current_wal_lsn - info->confirmed_flush_lsn)
            : 0.0);
    metrics_.retained_bytes.Set(static_cast<double>(info->retained_bytes));
    int64_t lag = info->current_wal_lsn > info->confirmed_flush_lsn
                      ? static_cast<int64_t>(info->current_wal_lsn - info->confirmed_flush_lsn)
                      : 0;
    std::lock_guard<std::mutex> lock(watch_mu_);
    watch_.OnPosition(info->confirmed_flush_lsn, lag, absl::Now());
    std::string stalled = watch_.Stalled(absl::Now());
    if (stalled != reported_stall_) {
      if (stalled.empty()) {
        spdlog::info("relay progressing again");
      } else {
        spdlog::warn("relay stalled, /readyz reports not ready: {}", stalled);
      }
      reported_stall_ = stalled;
    }
  } else {
    spdlog::warn("inspect slot: {}", std::string(info.status().message()));
  }
}

absl::StatusOr<Relay::SessionEnd> Relay::Stream() {
  ASSIGN_OR_RETURN(ReplicationConnection conn, ReplicationConnection::Connect(config_.pg_dsn));
  repl_.emplace(std::move(conn));
  ASSIGN_OR_RETURN(identity_, repl_->IdentifySystem());
  if (!checkpoint_system_id_.empty() && checkpoint_system_id_ != identity_.system_id) {
    // Its LSNs mean nothing here: skipping by them could drop events of this cluster.
    return absl::FailedPreconditionError(
        absl::StrCat("the checkpoint of slot ", config_.slot, " in ", config_.checkpoint_topic,
                     " was written from PostgreSQL system ", checkpoint_system_id_,
                     ", but this server is ", identity_.system_id,
                     ": another cluster shares the slot name and checkpoint topic, or "
                     "the database was replaced; use a distinct --slot/--checkpoint-topic, or see "
                     "`lottery-cdc-relay status` and docs/operations.md"));
  }
  absl::Status started = repl_->StartReplication(config_.slot, 0, config_.publication);
  if (IsSlotBusy(started)) {
    // Another process streams the slot: a relay that took over (its claim says so; this one's
    // producer is fenced even if nothing told it yet), or a connection of ours PostgreSQL has
    // not reaped yet (our own claim: retry).
    RETURN_IF_ERROR(CheckNotTakenOver(std::chrono::seconds(15)));
  }
  if (started.code() == absl::StatusCode::kFailedPrecondition) {
    // Gone or invalidated since Setup: never stream from a fresh slot silently.
    PollSlot();  // reconnects the normal connection if needed
    auto info = sql_ ? InspectSlot(sql_.get(), config_.slot)
                     : absl::StatusOr<SlotInfo>(absl::UnavailableError("no connection"));
    if (info.ok() && (!info->exists || info->lost())) {
      return SlotLostError(config_.slot, *info,
                           Checkpoint{.slot = config_.slot, .lsn = tracker_->checkpoint()});
    }
  }
  RETURN_IF_ERROR(started);
  assembler_.Reset();
  session_skipped_ = 0;
  ready_.store(true);
  PollSlot();
  spdlog::info("streaming slot {} from its confirmed_flush_lsn {} (Kafka checkpoint {})",
               config_.slot, FormatLsn(slot_confirmed_), FormatLsn(tracker_->checkpoint()));
  absl::Time last_data = absl::Now();
  while (true) {
    if (stop_.load()) return SessionEnd::kStop;
    absl::Time now = absl::Now();
    if (tracker_->Due(now)) {
      // The confirmation follows on the status timer: WAL release is not on the latency path.
      RETURN_IF_ERROR(CommitBatch());
      continue;
    }
    if (config_.end_lsn != 0 && tracker_->confirmable() >= config_.end_lsn && !pending()) {
      return SessionEnd::kDone;
    }
    if (config_.exit_when_idle > absl::ZeroDuration() && !pending() &&
        now - last_data >= config_.exit_when_idle) {
      return SessionEnd::kDone;
    }
    if (now - last_status_ >= config_.status_interval) {
      // With nothing pending, ask for a keepalive: its WAL end becomes confirmable, so traffic
      // on other tables does not pin WAL behind an idle outbox.
      RETURN_IF_ERROR(SendStatus(!pending()));
    }
    if (now - last_slot_poll_ >= config_.slot_poll_interval) PollSlot();
    if (!pending() && now - last_data >= kIdleClaimCheck &&
        now - last_claim_check_ >= kIdleClaimCheck) {
      // An idle relay produces nothing, so a relay that fenced it would wait for the slot until
      // the next outbox row: read the claim now and then, and give the slot up if it was taken.
      last_claim_check_ = now;
      RETURN_IF_ERROR(CheckNotTakenOver(std::chrono::seconds(3)));
    }
    producer_->Poll();
    // Group commit: with a batch open, look without waiting; once nothing more is there, commit.
    const bool commit_when_drained =
        config_.group_commit && tracker_->DueWhenDrained() && !partial_xid_;
    absl::Time wake = std::min(
        {last_status_ + config_.status_interval, tracker_->DueAt(), now + absl::Milliseconds(100)});
    auto timeout = commit_when_drained
                       ? milliseconds(0)
                       : milliseconds(std::max<int64_t>(0, absl::ToInt64Milliseconds(wake - now)));
    ASSIGN_OR_RETURN(std::optional<ReplicationMessage> msg, repl_->Receive(timeout));
    if (!msg) {
      if (commit_when_drained) RETURN_IF_ERROR(CommitBatch());
      continue;
    }
    if (auto* x = std::get_if<XLogData>(&*msg)) {
      last_data = absl::Now();
      bool force_commit = false;
      RETURN_IF_ERROR(OnXLogData(*x, force_commit));
      if (force_commit) {
        RETURN_IF_ERROR(CommitBatch());
        RETURN_IF_ERROR(SendStatus(false));  // --end-lsn: confirm now, we are about to stop
      }
    } else {
      const auto& k = std::get<PrimaryKeepalive>(*msg);
      received_ = std::max(received_, k.wal_end);
      tracker_->OnServerPosition(k.wal_end, assembler_.in_transaction());
      // Answer at once when asked (wal_sender_timeout); otherwise the status timer confirms.
      if (k.reply_requested) RETURN_IF_ERROR(SendStatus(false));
    }
  }
}

absl::Status Relay::Finish(const absl::Status& end) {
  absl::Status st = end;
  if (end.ok() || (end.code() == absl::StatusCode::kUnavailable && !StopGraceOver())) {
    // Publish what is buffered (whole PG transactions only) and confirm it.
    st = producer_failed_ ? end : CommitBatch();
  }
  if (st.ok()) {
    if (repl_) DrainGate(absl::Seconds(10));
    if (repl_ && SendStatus(false).ok()) {
      // Wait for the server to take the final confirmation before exiting.
      absl::Status ended = repl_->EndStream(milliseconds(5000));
      if (!ended.ok())
        spdlog::warn("ending the replication stream: {}", std::string(ended.message()));
    }
  } else if (st.code() == absl::StatusCode::kUnavailable && stop_.load()) {
    // Kafka did not answer within --stop-timeout. Nothing past the checkpoint was confirmed to
    // PostgreSQL; the open transaction is aborted when the next relay on this slot runs
    // init_transactions (or by the broker after transaction.timeout.ms), and that relay
    // publishes its rows again from the slot. Leaving is safe; waiting longer is not needed.
    spdlog::warn(
        "stopping with Kafka unreachable for {} after the stop signal: the open Kafka "
        "transaction ({} events after checkpoint {}) is left uncommitted; the next relay on "
        "slot {} aborts it and publishes those rows again: {}",
        absl::FormatDuration(config_.stop_timeout), tracker_->batch_events(),
        FormatLsn(tracker_->checkpoint()), config_.slot, std::string(st.message()));
  } else if (st.code() == absl::StatusCode::kAborted ||
             (st.code() == absl::StatusCode::kUnavailable && !producer_failed_)) {
    spdlog::warn("final Kafka transaction not committed, aborting it: {}",
                 std::string(st.message()));
    absl::Status ab = AbortBatch();
    if (!ab.ok()) spdlog::warn("abort at stop: {}", std::string(ab.message()));
  } else if (producer_failed_ && stop_.load()) {
    spdlog::warn("stopping with a failed Kafka producer (nothing more is confirmed): {}",
                 std::string(st.message()));
  } else {
    return st;
  }
  repl_.reset();
  spdlog::info("relay stopped at confirmed LSN {} (checkpoint {})",
               FormatLsn(tracker_->confirmable()), FormatLsn(tracker_->checkpoint()));
  return absl::OkStatus();
}

}  // namespace lottery::cdc::internal
