// The relay daemon's session object, shared by the files that implement it (relay.cc: start,
// claims and the run loop; relay_snapshot.cc: the initial snapshot; relay_publish.cc: Kafka
// transactions; relay_stream.cc: the replication stream). Private to the library.
#pragma once

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
#include "lottery/cdc/confirm_gate.h"
#include "lottery/cdc/pgoutput.h"
#include "lottery/cdc/publisher.h"
#include "lottery/cdc/recovery/recover.h"
#include "lottery/cdc/relay.h"
#include "lottery/cdc/relay_core.h"
#include "lottery/common/daemon.h"
#include "lottery/common/status.h"
#include "relay_metrics.h"
#include "spdlog/spdlog.h"

namespace lottery::cdc::internal {

using std::chrono::milliseconds;

inline constexpr int64_t kBackloggedMicros = 100'000;

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

// How long a relay whose producer failed waits before it reads the latest claim: a relay that
// fenced it commits its claim right after init_transactions, within this time.
inline constexpr absl::Duration kClaimSettle = absl::Seconds(2);
// A commit whose records Kafka does not show as stable after this long is logged as an error.
inline constexpr absl::Duration kGateWarnAfter = absl::Seconds(30);
// An idle relay (no WAL data for this long) reads the slot's claim this often.
inline constexpr absl::Duration kIdleClaimCheck = absl::Seconds(10);

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
  // Confirms to PostgreSQL what the gate lets through. `read_stable`: first ask Kafka for the
  // last stable offsets the gate waits for (not while Kafka is known to be unreachable).
  absl::Status SendStatus(bool reply_requested, bool read_stable = true);
  // Asks Kafka (read_committed ListOffsets) for the partitions the gate waits for; logs a
  // transaction held back for longer than kGateWarnAfter.
  void ReadStableOffsets(std::chrono::milliseconds timeout);
  // Before the final confirmation: waits until the gate lets every commit through, up to `max`.
  void DrainGate(absl::Duration max);
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
  // Holds an LSN back until Kafka shows its transaction's records as stable (confirm_gate.h).
  ConfirmGate gate_;
  kafka::KafkaPtr stable_client_;  // a read_committed handle for ListOffsets
  absl::Time gate_logged_ = absl::InfinitePast();
  mutable std::mutex watch_mu_;
  ProgressWatch watch_;
  std::string reported_stall_;
};

}  // namespace lottery::cdc::internal
