#include "lottery/cdc/relay.h"

#include "relay_session.h"

namespace lottery::cdc {

absl::Status SlotLostError(const std::string& slot, const SlotInfo& info,
                           const std::optional<Checkpoint>& checkpoint) {
  std::string what =
      info.exists ? absl::StrCat("replication slot ", slot, " was invalidated (wal_status=lost)")
                  : absl::StrCat("replication slot ", slot, " does not exist");
  std::string cp = checkpoint ? absl::StrCat(" while Kafka holds a checkpoint for it at ",
                                             FormatLsn(checkpoint->lsn))
                              : std::string();
  return absl::FailedPreconditionError(absl::StrCat(
      what, cp,
      ": the WAL between that checkpoint and now is gone from the slot, so streaming from a new "
      "slot would silently skip outbox events. Run `lottery-cdc-relay recover --slot-lost` "
      "(docs/operations.md) instead of starting the daemon."));
}

absl::Status CheckSlotForStart(const std::string& slot, const SlotInfo& info,
                               const std::optional<Checkpoint>& checkpoint,
                               const std::string& database) {
  if (!info.exists) {
    if (checkpoint) return SlotLostError(slot, info, checkpoint);
    return absl::OkStatus();  // first start
  }
  if (info.lost()) return SlotLostError(slot, info, checkpoint);
  if (info.slot_type != "logical" || info.plugin != "pgoutput") {
    return absl::FailedPreconditionError(
        absl::StrCat("replication slot ", slot, " is a ", info.slot_type, " slot with plugin '",
                     info.plugin, "'; the relay needs a logical pgoutput slot"));
  }
  if (!database.empty() && info.database != database) {
    return absl::FailedPreconditionError(absl::StrCat(
        "replication slot ", slot, " belongs to database ", info.database, ", not ", database));
  }
  return absl::OkStatus();
}

namespace internal {

absl::Status Relay::KafkaFatal(absl::Status st) {
  if (st.code() != absl::StatusCode::kFailedPrecondition) return st;
  producer_failed_ = true;
  return absl::FailedPreconditionError(
      absl::StrCat("the Kafka producer ", TransactionalIdForSlot(config_.slot),
                   " was fenced or failed fatally: ", st.message()));
}

absl::Status Relay::FencedError(const RelayClaim& other) const {
  return absl::FailedPreconditionError(
      absl::StrCat("fenced: another lottery-cdc-relay took over slot ", config_.slot, ": ",
                   other.Describe(), " claimed it after this relay (", claim_.Describe(),
                   ") and its producer fenced this "
                   "one's; stopping without confirming anything more (run one relay per slot)"));
}

absl::StatusOr<std::optional<RelayClaim>> Relay::ReadClaim(std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(std::optional<std::string> raw,
                   ReadLatestValue(config_.kafka_props, config_.checkpoint_topic, config_.slot,
                                   ClaimKey(config_.slot), timeout));
  if (!raw) return std::nullopt;
  ASSIGN_OR_RETURN(RelayClaim claim, DecodeClaim(*raw));
  return claim;
}

absl::Status Relay::CheckNotTakenOver(std::chrono::milliseconds timeout, absl::Status* unreadable) {
  absl::StatusOr<std::optional<RelayClaim>> latest = ReadClaim(timeout);
  if (!latest.ok()) {
    if (unreadable != nullptr) *unreadable = latest.status();
    return absl::OkStatus();
  }
  if (ClassifyProducerFailure(claim_, *latest) == ProducerFailure::kFencedByAnotherRelay) {
    return FencedError(**latest);
  }
  return absl::OkStatus();
}

absl::Status Relay::ReplaceFailedProducer(const absl::Status& why) {
  if (!Sleep(kClaimSettle)) return absl::OkStatus();
  absl::Status unreadable;
  RETURN_IF_ERROR(CheckNotTakenOver(std::chrono::seconds(15), &unreadable));
  if (!unreadable.ok()) {
    // Only a zombie transaction of this producer can hold the claim back; a new producer
    // aborts it. Another relay, if any, learns of this one by its claim and stops.
    spdlog::warn("could not read the slot's claim ({}); no other relay is known",
                 std::string(unreadable.message()));
  }
  metrics_.producer_restarts.Inc();
  spdlog::warn(
      "{}; no other relay claimed slot {} since this one did, so the broker ended this producer "
      "(e.g. a Kafka transaction outlived transaction.timeout.ms while Kafka was unreachable): "
      "starting a new producer and resuming from the checkpoint",
      std::string(why.message()), config_.slot);
  repl_.reset();
  tracker_.reset();
  pending_dead_letters_.clear();
  commit_in_flight_ = false;
  partial_xid_.reset();
  return CreateProducer();
}

absl::Status Relay::CreateProducer() {
  producer_.reset();
  producer_failed_ = false;
  ASSIGN_OR_RETURN(producer_, RetryUnavailable(stop_, "Kafka init_transactions", [&] {
                     return TransactionalProducer::Create(config_.kafka_props,
                                                          TransactionalIdForSlot(config_.slot));
                   }));
  claim_.claimed_at_unix_ms = absl::ToUnixMillis(absl::Now());
  RETURN_IF_ERROR(KafkaFatal(producer_->Begin()));
  RETURN_IF_ERROR(KafkaFatal(producer_->ProduceKeyed(config_.checkpoint_topic,
                                                     ClaimKey(config_.slot), EncodeClaim(claim_))));
  // A timed-out commit is retried, never aborted: an abort would conflict with it.
  RETURN_IF_ERROR(KafkaFatal(RetryUnavailable(stop_, "Kafka commit of the slot's claim", [&] {
    return producer_->Commit(milliseconds(10000));
  })));
  spdlog::info(
      "transactional producer {} initialized (older relays on this slot are fenced); slot {} "
      "claimed by {}",
      TransactionalIdForSlot(config_.slot), config_.slot, claim_.Describe());
  return absl::OkStatus();
}

bool Relay::StopGraceOver() {
  if (!stop_.load()) return false;
  if (stop_seen_ == absl::InfiniteFuture()) stop_seen_ = absl::Now();
  return absl::Now() - stop_seen_ >= config_.stop_timeout;
}

bool Relay::Sleep(absl::Duration d) {
  absl::Time until = absl::Now() + d;
  while (!stop_.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
  return !stop_.load();
}

absl::Status Relay::Setup() {
  ASSIGN_OR_RETURN(sql_, RetryUnavailable(stop_, "connect to PostgreSQL",
                                          [&] { return pg::Connect(config_.pg_dsn); }));
  database_ = PQdb(sql_.get());
  ASSIGN_OR_RETURN(bool have_pub, PublicationExists(sql_.get(), config_.publication));
  if (!have_pub) {
    return absl::FailedPreconditionError(absl::StrCat(
        "publication ", config_.publication, " does not exist in database ", database_,
        ": run `lottery-migrate` against this database first (it creates the outbox table and "
        "its publication), or pass the right --publication"));
  }
  auto bootstrap = config_.kafka_props.find("bootstrap.servers");
  if (bootstrap == config_.kafka_props.end()) {
    return absl::InvalidArgumentError("no Kafka bootstrap servers (LOTTERY_KAFKA_BOOTSTRAP)");
  }
  RETURN_IF_ERROR(RetryUnavailable(stop_, "create checkpoint topic", [&] {
    return EnsureCheckpointTopic(bootstrap->second, config_.checkpoint_topic);
  }));
  RETURN_IF_ERROR(RetryUnavailable(stop_, "create dead-letter topic", [&] {
    return kafka::CreateTopics(bootstrap->second, {{config_.dead_letter_topic, 1}}, {});
  }));
  spdlog::info("checkpoint topic {} ready; initializing the transactional producer",
               config_.checkpoint_topic);
  // init_transactions first: it fences an older relay on this slot and aborts its open
  // transaction, so the checkpoint we read next cannot move behind our back.
  RETURN_IF_ERROR(CreateProducer());
  return StartStreaming();
}

absl::Status Relay::StartStreaming() {
  while (true) {
    absl::Status st = RetryUnavailable(stop_, "start", [&] {
      if (producer_->in_transaction()) (void)producer_->Abort(milliseconds(10000));
      absl::Status st = Start();
      if (st.code() == absl::StatusCode::kAborted) st = absl::UnavailableError(st.message());
      if (st.code() == absl::StatusCode::kUnavailable) sql_.reset();  // reconnect on the retry
      return st;
    });
    if (!producer_failed_ || stop_.load()) return st;
    RETURN_IF_ERROR(ReplaceFailedProducer(st));  // e.g. during a long initial snapshot
  }
}

absl::Status Relay::Start() {
  if (sql_ == nullptr || PQstatus(sql_.get()) != CONNECTION_OK) {
    ASSIGN_OR_RETURN(sql_, pg::Connect(config_.pg_dsn));
  }
  ASSIGN_OR_RETURN(std::optional<Checkpoint> checkpoint,
                   ReadCheckpoint(config_.kafka_props, config_.checkpoint_topic, config_.slot));
  std::optional<SnapshotProgress> progress;
  if (!checkpoint) {
    ASSIGN_OR_RETURN(std::optional<std::string> raw,
                     ReadLatestValue(config_.kafka_props, config_.checkpoint_topic, config_.slot,
                                     SnapshotProgressKey(config_.slot)));
    if (raw) {
      ASSIGN_OR_RETURN(progress, DecodeSnapshotProgress(*raw));
    }
  }
  ASSIGN_OR_RETURN(SlotInfo slot, InspectSlot(sql_.get(), config_.slot));
  ASSIGN_OR_RETURN(StartDecision decision, DecideStart(config_.slot, slot, checkpoint, progress,
                                                       config_.initial_snapshot, database_));
  if (decision.action != StartAction::kStream) spdlog::info("{}", decision.why);
  if (decision.action == StartAction::kCreateSlot) {
    ASSIGN_OR_RETURN(auto conn, ReplicationConnection::Connect(config_.pg_dsn));
    auto created = conn.CreateSlot(config_.slot, ReplicationConnection::Snapshot::kNothing);
    if (!created.ok() && created.status().code() != absl::StatusCode::kAlreadyExists) {
      return created.status();
    }
    ASSIGN_OR_RETURN(slot, InspectSlot(sql_.get(), config_.slot));
  } else if (decision.action != StartAction::kStream) {
    RETURN_IF_ERROR(RunSnapshot(decision, progress, slot));
    if (stop_.load()) return absl::OkStatus();
    ASSIGN_OR_RETURN(checkpoint,
                     ReadCheckpoint(config_.kafka_props, config_.checkpoint_topic, config_.slot));
    if (!checkpoint) return absl::DataLossError("the initial snapshot left no checkpoint");
  }
  if (checkpoint) {
    dead_lettered_ = committed_dead_lettered_ = checkpoint->dead_lettered;
    last_dead_letter_ = committed_last_dead_letter_ = checkpoint->last_dead_letter;
  }
  if (checkpoint && !checkpoint->system_id.empty() && checkpoint->lsn > slot.confirmed_flush_lsn &&
      checkpoint->lsn > slot.current_wal_lsn) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the Kafka checkpoint of slot ", config_.slot, " (", FormatLsn(checkpoint->lsn),
        ") is ahead of this server's WAL (", FormatLsn(slot.current_wal_lsn),
        "): the database was restored or failed over; see `lottery-cdc-relay status` and "
        "docs/operations.md"));
  }
  if (checkpoint) checkpoint_system_id_ = checkpoint->system_id;
  Lsn cp = checkpoint ? checkpoint->lsn : 0;
  tracker_.emplace(BatchTracker::Options{config_.batch_txns, config_.batch_time}, cp,
                   slot.confirmed_flush_lsn);
  metrics_.confirmed_lsn.Set(static_cast<double>(slot.confirmed_flush_lsn));
  spdlog::info(
      "relay ready: slot {} (confirmed_flush_lsn {}, wal_status {}), publication {}, "
      "checkpoint {} on {}, batches of {} transactions / {} ms{}",
      config_.slot, FormatLsn(slot.confirmed_flush_lsn), slot.wal_status, config_.publication,
      checkpoint ? FormatLsn(checkpoint->lsn) : std::string("none"), config_.checkpoint_topic,
      config_.batch_txns, absl::ToInt64Milliseconds(config_.batch_time),
      config_.group_commit ? ", group commit (at once when the stream is drained)" : "");
  return absl::OkStatus();
}

absl::Status Relay::Run() {
  absl::Status setup = Setup();
  if (!setup.ok()) {
    if (!stop_.load()) return setup;
    // A stop request ends the start-up's retries (Kafka or PostgreSQL unreachable): nothing
    // was confirmed, nothing is lost.
    spdlog::warn("stopped during start-up: {}", std::string(setup.message()));
    return absl::OkStatus();
  }
  if (!tracker_) return absl::OkStatus();  // stopped during the initial snapshot: resumes later
  // Restarts of the stream back off, with jitter, until a session commits again: an error that
  // keeps coming back costs a few restarts a second at most, never a hot loop.
  daemon::Backoff backoff(absl::Milliseconds(200), absl::Seconds(10), std::random_device{}());
  while (true) {
    uint64_t commits_before = commits_;
    absl::StatusOr<SessionEnd> end = Stream();
    ready_.store(false);
    if (commits_ > commits_before) backoff.Reset();
    // SIGTERM (whatever the session's last error) or a stop condition.
    if (end.ok() || stop_.load()) return Finish(end.status());
    absl::Status st = end.status();
    metrics_.reconnects.Inc();
    absl::Duration delay = backoff.Next();
    if (!producer_failed_) {
      switch (st.code()) {
        case absl::StatusCode::kAborted: {
          // txn_requires_abort: drop the batch and restart streaming from the confirmed
          // position; the checkpoint skips what already committed.
          spdlog::warn("Kafka transaction must abort, restarting from {} in {} ms: {}",
                       FormatLsn(tracker_->confirmable()), absl::ToInt64Milliseconds(delay),
                       std::string(st.message()));
          repl_.reset();
          st = AbortBatch();
          break;
        }
        case absl::StatusCode::kUnavailable: {
          // PostgreSQL went away (or the slot is busy). The batch holds whole PG transactions,
          // so it may still be committed; if that fails, abort it.
          spdlog::warn("replication interrupted, reconnecting in {} ms: {}",
                       absl::ToInt64Milliseconds(delay), std::string(st.message()));
          repl_.reset();
          st = CommitBatch();
          if (!st.ok() && !producer_failed_) st = AbortBatch();
          break;
        }
        default: {
          repl_.reset();
          if (producer_->in_transaction()) (void)producer_->Abort(milliseconds(5000));
          return st;
        }
      }
    }
    if (stop_.load()) return Finish(st);
    if (producer_failed_) {
      // Fenced by another relay (stop, naming it) or ended by the broker (a new producer).
      RETURN_IF_ERROR(ReplaceFailedProducer(st));
      if (stop_.load()) return absl::OkStatus();
      RETURN_IF_ERROR(StartStreaming());
      if (!tracker_) return absl::OkStatus();
      continue;
    }
    RETURN_IF_ERROR(st);
    if (!Sleep(delay)) return absl::OkStatus();
  }
}

}  // namespace internal

absl::Status RunRelay(const RelayConfig& config, const std::atomic<bool>& stop,
                      metrics::Registry& registry) {
  internal::Relay relay(config, stop, registry);
  ASSIGN_OR_RETURN(std::unique_ptr<metrics::HttpServer> http,
                   daemon::StartMetricsServer(config.metrics_addr, &registry,
                                              [&relay] { return relay.ready(); }));
  return relay.Run();
}

}  // namespace lottery::cdc
