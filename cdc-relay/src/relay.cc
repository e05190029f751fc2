#include "lottery/cdc/relay.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lottery/cdc/claim.h"
#include "lottery/cdc/pgoutput.h"
#include "lottery/cdc/publisher.h"
#include "lottery/cdc/recovery/recover.h"
#include "lottery/cdc/relay_core.h"
#include "lottery/common/daemon.h"
#include "lottery/common/status.h"
#include "relay_metrics.h"
#include "spdlog/spdlog.h"

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

namespace {

using std::chrono::milliseconds;

constexpr int64_t kBackloggedMicros = 100'000;

// Retries `fn` while it returns kUnavailable, with exponential backoff up to 5 s.
template <typename Fn>
auto RetryUnavailable(const std::atomic<bool>& stop, const char* what, Fn fn) -> decltype(fn()) {
  daemon::Backoff backoff(absl::Milliseconds(100), absl::Seconds(5), std::random_device{}());
  while (true) {
    auto result = fn();
    absl::Status st;
    if constexpr (std::is_same_v<decltype(result), absl::Status>) {
      st = result;
    } else {
      st = result.status();
    }
    if (st.code() != absl::StatusCode::kUnavailable || stop.load()) return result;
    const absl::Duration delay = backoff.Next();
    spdlog::warn("{}: {} (retrying in {} ms)", what, std::string(st.message()),
                 absl::ToInt64Milliseconds(delay));
    absl::Time until = absl::Now() + delay;
    while (!stop.load() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
  }
}

class Relay {
 public:
  Relay(const RelayConfig& config, const std::atomic<bool>& stop, metrics::Registry& registry)
      : config_(config),
        stop_(stop),
        metrics_(registry),
        claim_(NewClaim()),
        watch_(config.stall_after) {}

  absl::Status Run();
  // Streaming and progressing (ProgressWatch). Called from the HTTP server's threads.
  bool ready() const {
    if (!ready_.load()) return false;
    std::lock_guard<std::mutex> lock(watch_mu_);
    return watch_.Stalled(absl::Now()).empty();
  }

 private:
  enum class SessionEnd { kStop, kDone };
  absl::Status Setup();
  // init_transactions (fencing older producers of the slot), then commits this relay's claim.
  absl::Status CreateProducer();
  // Start() until it succeeds or fails for good; replaces a producer that fails meanwhile.
  absl::Status StartStreaming();
  // Marks a kFailedPrecondition of the producer (fenced or fatal) for ReplaceFailedProducer.
  absl::Status KafkaFatal(absl::Status st);
  // The producer failed fatally: stop (kFailedPrecondition) if another relay claimed the slot
  // since, else start a new producer. OK also when stop was requested meanwhile.
  absl::Status ReplaceFailedProducer(const absl::Status& why);
  absl::StatusOr<std::optional<RelayClaim>> ReadClaim(std::chrono::milliseconds timeout);
  absl::Status FencedError(const RelayClaim& other) const;
  // kFailedPrecondition (FencedError) when the slot's latest claim is another relay's; OK when
  // it is ours, there is none, or it cannot be read (`unreadable` says why, if asked).
  absl::Status CheckNotTakenOver(std::chrono::milliseconds timeout,
                                 absl::Status* unreadable = nullptr);
  // SIGTERM or a stop condition ended the session `end`: commit what is buffered when Kafka
  // answers within --stop-timeout, else leave the open transaction to be fenced. OK unless the
  // session ended with an error that a restart would meet again.
  absl::Status Finish(const absl::Status& end);
  absl::Status Start();  // slot, checkpoint and (first start) the initial snapshot
  absl::Status RunSnapshot(const StartDecision& decision,
                           const std::optional<SnapshotProgress>& progress, SlotInfo& slot);
  absl::Status CommitSnapshot(const SnapshotProgress& progress);
  absl::Status PublishEvent(const OutboxEvent& event, Lsn commit_end_lsn);
  absl::Status DeadLetter(const OutboxEvent& event, Lsn commit_end_lsn, const RecordCheck& why);
  absl::Status CommitWithRetry();  // commits the open Kafka transaction
  absl::StatusOr<SessionEnd> Stream();
  absl::Status OnXLogData(const XLogData& x, bool& force_commit);
  // Produces the open PostgreSQL transaction's buffered rows now (a large transaction), so the
  // relay's memory stays bounded by --max-buffered-rows whatever the transaction's size.
  absl::Status StreamOpenTxn();
  absl::Status CommitBatch();
  absl::Status AbortBatch();
  absl::Status SendStatus(bool reply_requested);
  void PollSlot();
  void SyncIgnoredCounters();
  bool pending() const { return assembler_.in_transaction() || tracker_->batch_open(); }
  bool Sleep(absl::Duration d);  // false when stop was requested
  // True once stop was requested more than --stop-timeout ago (Kafka waits give up then).
  bool StopGraceOver();

  const RelayConfig& config_;
  const std::atomic<bool>& stop_;
  Metrics metrics_;
  std::atomic<bool> ready_{false};

  pg::ConnPtr sql_;  // normal connection: slot inspection
  std::unique_ptr<TransactionalProducer> producer_;
  bool producer_failed_ = false;   // fenced or fatal: KafkaFatal saw it
  bool commit_in_flight_ = false;  // CommitBatch's commit did not finish (Kafka unreachable)
  // A PostgreSQL transaction whose first rows are in the Kafka transaction, its Commit not yet
  // decoded (StreamOpenTxn): the Kafka transaction may only be aborted.
  std::optional<TransactionId> partial_xid_;
  int64_t snapshot_counted_ = 0;  // initial-snapshot rows already in events_published
  RelayClaim claim_;              // this process (claim.h)
  absl::Time stop_seen_ = absl::InfiniteFuture();
  absl::Time last_claim_check_ = absl::Now();
  std::optional<ReplicationConnection> repl_;
  SystemIdentity identity_;
  std::string database_;
  TxnAssembler assembler_;
  std::optional<BatchTracker> tracker_;
  IgnoredChanges synced_ignored_;
  Lsn received_ = 0;  // highest server WAL end seen
  uint64_t session_skipped_ = 0;
  Lsn slot_confirmed_ = 0;            // as of the last PollSlot()
  std::string checkpoint_system_id_;  // cluster that wrote the checkpoint read at start
  absl::Time last_status_ = absl::InfinitePast();
  absl::Time last_slot_poll_ = absl::InfinitePast();
  // Dead letters: cumulative counts carried by the checkpoint; the pending ones belong to the open
  // Kafka transaction and are forgotten if it aborts.
  uint64_t dead_lettered_ = 0, committed_dead_lettered_ = 0;
  std::string last_dead_letter_, committed_last_dead_letter_;
  std::vector<RecordError> pending_dead_letters_;
  uint64_t commits_ = 0;  // Kafka transactions committed by this process
  mutable std::mutex watch_mu_;
  ProgressWatch watch_;
  std::string reported_stall_;
};

// How long a relay whose producer failed waits before it reads the latest claim: a relay that
// fenced it commits its claim right after init_transactions, within this time.
constexpr absl::Duration kClaimSettle = absl::Seconds(2);
// An idle relay (no WAL data for this long) reads the slot's claim this often.
constexpr absl::Duration kIdleClaimCheck = absl::Seconds(10);

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

absl::Status Relay::RunSnapshot(const StartDecision& decision,
                                const std::optional<SnapshotProgress>& prior, SlotInfo& slot) {
  SnapshotProgress progress;
  ASSIGN_OR_RETURN(ReplicationConnection repl, ReplicationConnection::Connect(config_.pg_dsn));
  ASSIGN_OR_RETURN(identity_, repl.IdentifySystem());
  if (decision.action == StartAction::kResumeSnapshot) {
    progress = *prior;
    snapshot_counted_ = progress.published;  // counted by the process that published them
  } else {
    if (decision.action == StartAction::kRedoSnapshot) {
      RETURN_IF_ERROR(pg::ExecCommand(sql_.get(), "SELECT pg_drop_replication_slot($1)",
                                      {pg::Param::Text(config_.slot)}));
    }
    ASSIGN_OR_RETURN(ExportedSnapshot exported,
                     CreateSlotWithSnapshot(repl, sql_.get(), config_.slot));
    progress.consistent_point = exported.consistent_point;
    progress.snapshot = exported.snapshot;
    spdlog::info("created replication slot {} at {} (snapshot {})", config_.slot,
                 FormatLsn(progress.consistent_point), progress.snapshot);
  }
  ASSIGN_OR_RETURN(SnapshotSummary summary,
                   SummarizeSnapshot(sql_.get(), progress.snapshot, progress.last_seq));
  std::vector<std::string> topics;
  for (const auto& t : summary.topics) {
    if (IsValidTopicName(t)) topics.push_back(t);
  }
  absl::flat_hash_set<std::string> already;
  if (summary.rows > 0 && !topics.empty()) {
    // History on the topics (an earlier deployment, a lost checkpoint topic): never twice.
    ASSIGN_OR_RETURN(
        already,
        recovery::PublishedIds(config_.kafka_props, topics,
                               absl::FromUnixMicros(summary.min_created_unix_us) - absl::Minutes(5),
                               absl::Minutes(5)));
  }
  spdlog::info(
      "initial snapshot at {}: {} outbox rows after seq {} in {} topic(s); {} ids of those "
      "topics already in Kafka are not published again",
      FormatLsn(progress.consistent_point), summary.rows, progress.last_seq, topics.size(),
      already.size());
  SnapshotSink sink{[&](const OutboxEvent& e) -> absl::Status {
                      if (!producer_->in_transaction())
                        RETURN_IF_ERROR(KafkaFatal(producer_->Begin()));
                      return PublishEvent(
                          e, 0);  // the commit LSN of a row read from the table is unknown
                    },
                    [&](const SnapshotProgress& p) { return CommitSnapshot(p); }};
  RETURN_IF_ERROR(
      PublishSnapshot(sql_.get(), progress, already, config_.snapshot_batch, sink, stop_));
  ASSIGN_OR_RETURN(slot, InspectSlot(sql_.get(), config_.slot));
  return absl::OkStatus();
}

absl::Status Relay::CommitSnapshot(const SnapshotProgress& progress) {
  if (!producer_->in_transaction()) RETURN_IF_ERROR(KafkaFatal(producer_->Begin()));
  if (progress.done) {
    Checkpoint c;
    c.slot = config_.slot;
    c.lsn = progress.consistent_point;
    c.commit_time = ToPgMicros(absl::Now());
    c.system_id = identity_.system_id;
    c.database = database_;
    c.events = static_cast<uint64_t>(progress.published);
    c.written_at_unix_ms = absl::ToUnixMillis(absl::Now());
    c.dead_lettered = dead_lettered_;
    c.last_dead_letter = last_dead_letter_;
    RETURN_IF_ERROR(KafkaFatal(producer_->ProduceCheckpoint(config_.checkpoint_topic, c)));
  }
  RETURN_IF_ERROR(KafkaFatal(producer_->ProduceKeyed(config_.checkpoint_topic,
                                                     SnapshotProgressKey(config_.slot),
                                                     EncodeSnapshotProgress(progress))));
  RETURN_IF_ERROR(CommitWithRetry());
  metrics_.kafka_committed.Inc();
  metrics_.events_published.Inc(progress.published - snapshot_counted_);
  snapshot_counted_ = progress.published;
  return absl::OkStatus();
}

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
    if (repl_) (void)SendStatus(false);
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

absl::Status Relay::SendStatus(bool reply_requested) {
  if (!repl_) return absl::OkStatus();
  Lsn flush = tracker_->confirmable();
  RETURN_IF_ERROR(repl_->SendStatus(std::max(received_, flush), flush, flush, reply_requested));
  spdlog::debug("status update: write {} flush {}{}", FormatLsn(std::max(received_, flush)),
                FormatLsn(flush), reply_requested ? " (reply requested)" : "");
  last_status_ = absl::Now();
  metrics_.confirmed_lsn.Set(static_cast<double>(flush));
  return absl::OkStatus();
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

}  // namespace

absl::Status RunRelay(const RelayConfig& config, const std::atomic<bool>& stop,
                      metrics::Registry& registry) {
  Relay relay(config, stop, registry);
  ASSIGN_OR_RETURN(std::unique_ptr<metrics::HttpServer> http,
                   daemon::StartMetricsServer(config.metrics_addr, &registry,
                                              [&relay] { return relay.ready(); }));
  return relay.Run();
}

}  // namespace lottery::cdc
