// The pure heart of the relay: "PostgreSQL transaction buffered -> Kafka transaction ->
// confirmable LSN". No I/O: the daemon (relay.h) feeds it decoded pgoutput messages and tells it
// when a Kafka transaction committed or aborted; it answers what to publish and which LSN may be
// confirmed to PostgreSQL. Unit-tested without servers (tests/relay_core_test.cc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lottery/cdc/lsn.h"
#include "lottery/cdc/outbox_event.h"
#include "lottery/cdc/pgoutput.h"
#include "lottery/cdc/relation_cache.h"

namespace lottery::cdc {

// One committed PostgreSQL transaction with the outbox rows it inserted, in insert order.
struct CommittedTxn {
  TransactionId xid = 0;
  Lsn commit_lsn = 0;       // start of the commit record
  Lsn end_lsn = 0;          // end of the commit record: the position we checkpoint and confirm
  int64_t commit_time = 0;  // microseconds since 2000-01-01 UTC
  std::vector<OutboxEvent> events;
  // Events of this transaction taken earlier with TxnAssembler::TakeBuffered (a large
  // transaction streamed before its Commit), not in `events`.
  size_t streamed_events = 0;
};

// Counters of what the assembler saw but does not publish (Debezium's outbox router warns on
// these too): the outbox is insert-only; the publication normally publishes inserts only.
struct IgnoredChanges {
  uint64_t updates = 0;
  uint64_t deletes = 0;
  uint64_t truncates = 0;
  uint64_t messages = 0;
  uint64_t origins = 0;
  uint64_t types = 0;
};

// Buffers one PostgreSQL transaction from Begin to Commit and keeps the relation cache. Feed every
// pgoutput message of a replication session in stream order; Reset() when a new session starts
// (the server re-sends Relations and restarts any open transaction). A large transaction need
// not be held whole: TakeBuffered() hands out what is buffered so far (the relay streams it into
// its Kafka transaction), and the Commit returns the rest.
class TxnAssembler {
 public:
  // Returns the transaction when `message` is its Commit, nullopt otherwise.
  // Errors (stop the relay, never skip): kDataLoss for a protocol violation (change outside a
  // transaction, nested Begin, Commit LSN mismatch, unknown relation OID) or an undecodable row;
  // kFailedPrecondition when a published table is not an outbox. A row whose headers column is
  // bad is returned with OutboxEvent::bad_headers set (the relay dead-letters it).
  absl::StatusOr<std::optional<CommittedTxn>> Feed(const PgOutputMessage& message);

  bool in_transaction() const { return open_.has_value(); }
  // Events of the open transaction buffered now (0 outside a transaction).
  size_t buffered_events() const { return open_ ? open_->events.size() : 0; }
  // Moves the buffered events of the open transaction out (they count as streamed_events).
  std::vector<OutboxEvent> TakeBuffered();
  // The open transaction's xid and its commit record's start LSN (Begin's final_lsn).
  TransactionId open_xid() const { return open_ ? open_->xid : 0; }
  Lsn open_final_lsn() const { return open_final_lsn_; }
  void Reset();
  const IgnoredChanges& ignored() const { return ignored_; }
  uint64_t events_decoded() const { return events_decoded_; }

 private:
  RelationCache relations_;
  std::optional<CommittedTxn> open_;
  Lsn open_final_lsn_ = 0;
  IgnoredChanges ignored_;
  uint64_t events_decoded_ = 0;
};

// Groups committed PostgreSQL transactions into Kafka transactions and tracks which LSN is safe to
// confirm to PostgreSQL.
//
// Contract: an LSN becomes confirmable only when (a) the Kafka transaction holding its events (and
// the checkpoint record naming it) committed, or (b) it is <= the checkpoint already in Kafka, or
// (c) nothing is pending at all (no open PostgreSQL or Kafka transaction) and the server says its
// WAL end is there (a keepalive): everything before it was sent to us and handled.
class BatchTracker {
 public:
  struct Options {
    size_t max_txns = 500;                            // K: PG transactions per Kafka transaction
    absl::Duration max_age = absl::Milliseconds(20);  // M: oldest buffered txn -> commit
    // While the relay is behind (a backlog: the server sends transactions that committed long
    // ago), waiting M buys no latency, and each commit costs a broker round trip, so batches
    // grow up to `backlog_age` or `max_events`, whichever comes first.
    absl::Duration backlog_age = absl::Milliseconds(250);
    size_t max_events = 20000;
  };
  // `checkpoint`: the last commit end LSN in Kafka (0 if none); `confirmed`: the slot's position.
  BatchTracker(Options options, Lsn checkpoint, Lsn confirmed);

  enum class Action {
    kSkip,     // end_lsn <= checkpoint: already in Kafka (redelivered after a crash); drop it
    kPublish,  // produce txn.events into the open Kafka transaction (open one if !batch_open())
    kNothing,  // no events and nothing open: already confirmable
  };
  // Call for every CommittedTxn in stream order.
  Action Add(const CommittedTxn& txn, absl::Time now);
  // Whether a transaction whose commit record starts at `final_lsn` (Begin's final_lsn) will be
  // kSkip once it commits: decided before its Commit, for a transaction streamed early. Commit
  // records do not overlap, so final_lsn < checkpoint iff its end_lsn <= checkpoint.
  bool WillSkip(Lsn final_lsn) const { return final_lsn < checkpoint_; }

  bool batch_open() const { return batch_txns_ > 0; }
  size_t batch_txns() const { return batch_txns_; }
  size_t batch_events() const { return batch_events_; }
  // Whether the stream is behind (see Options); the relay sets it from each Commit: server send
  // time minus commit time above a threshold.
  void SetBacklogged(bool backlogged) { backlogged_ = backlogged; }
  bool backlogged() const { return backlogged_; }
  // The batch should be committed now: K transactions or max_events, or M elapsed since its
  // first txn (backlog_age while backlogged).
  bool Due(absl::Time now) const;
  // The time at which the open batch becomes due (InfiniteFuture when none is open).
  absl::Time DueAt() const;
  // Group commit: when the stream has nothing more to read right now, a batch is due at once
  // unless the stream is behind (then batches grow to backlog_age or max_events). While a
  // commit blocks, the server's next transactions queue up and form the next batch, so batches
  // grow with the rate and a quiet stream pays no window.
  bool DueWhenDrained() const { return batch_txns_ > 0 && !backlogged_; }
  // The checkpoint to write into the open Kafka transaction: last included end LSN.
  Lsn batch_end_lsn() const { return batch_end_lsn_; }
  int64_t batch_last_commit_time() const { return batch_last_commit_time_; }

  // The Kafka transaction of the open batch committed: its LSNs become confirmable and the
  // checkpoint advances.
  void Committed();
  // The Kafka transaction aborted: the batch is gone. The caller must restart streaming from the
  // confirmed position (the server re-sends; Add() skips what is <= checkpoint).
  void Aborted();
  // A keepalive (or any message) says the server's WAL end is `wal_end`. With nothing pending
  // (`in_pg_txn` false and no open batch) that position becomes confirmable.
  void OnServerPosition(Lsn wal_end, bool in_pg_txn);

  Lsn confirmable() const { return confirmable_; }
  Lsn checkpoint() const { return checkpoint_; }

 private:
  Options options_;
  Lsn checkpoint_;
  Lsn confirmable_;
  size_t batch_txns_ = 0;
  size_t batch_events_ = 0;
  Lsn batch_end_lsn_ = 0;
  int64_t batch_last_commit_time_ = 0;
  absl::Time batch_started_ = absl::InfiniteFuture();
  bool backlogged_ = false;
};

// Whether the relay is making progress, for /readyz and the log. Stalled when (a) the slot has
// lag (WAL the relay has not confirmed) and the confirmed LSN has not advanced for `stall_after`,
// or (b) `max_aborts` Kafka transactions in a row aborted without one committing. Pure; the
// caller serializes access.
class ProgressWatch {
 public:
  explicit ProgressWatch(absl::Duration stall_after, int max_aborts = 3)
      : stall_after_(stall_after), max_aborts_(max_aborts) {}
  // The confirmed LSN and the lag (server WAL end - confirmed) as of `now`.
  void OnPosition(Lsn confirmed, int64_t lag_bytes, absl::Time now);
  void OnCommit() { aborts_in_row_ = 0; }
  void OnAbort() { ++aborts_in_row_; }
  // "" when progressing, else why not.
  std::string Stalled(absl::Time now) const;

 private:
  absl::Duration stall_after_;
  int max_aborts_;
  Lsn confirmed_ = 0;
  int64_t lag_bytes_ = 0;
  absl::Time progressed_at_ = absl::InfinitePast();  // last time confirmed advanced or lag was 0
  int aborts_in_row_ = 0;
};

}  // namespace lottery::cdc
