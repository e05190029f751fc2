#include "lottery/cdc/relay_core.h"

#include <algorithm>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/strings/str_cat.h"

namespace lottery::cdc {

std::vector<OutboxEvent> TxnAssembler::TakeBuffered() {
  if (!open_) return {};
  std::vector<OutboxEvent> taken = std::move(open_->events);
  open_->events.clear();
  open_->streamed_events += taken.size();
  return taken;
}

void TxnAssembler::Reset() {
  relations_.Clear();
  open_.reset();
  open_final_lsn_ = 0;
}

absl::StatusOr<std::optional<CommittedTxn>> TxnAssembler::Feed(const PgOutputMessage& message) {
  relations_.Observe(message);
  auto need_txn = [&](const char* what) -> absl::Status {
    if (!open_) {
      return absl::DataLossError(absl::StrCat("pgoutput ", what, " outside a transaction"));
    }
    return absl::OkStatus();
  };
  return std::visit(
      [&](const auto& m) -> absl::StatusOr<std::optional<CommittedTxn>> {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Begin>) {
          if (open_) {
            return absl::DataLossError(absl::StrCat("pgoutput Begin of xid ", m.xid,
                                                    " inside the open transaction of xid ",
                                                    open_->xid));
          }
          open_.emplace();
          open_->xid = m.xid;
          open_->commit_time = m.commit_time;
          open_final_lsn_ = m.final_lsn;
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, Commit>) {
          if (absl::Status st = need_txn("Commit"); !st.ok()) return st;
          if (m.commit_lsn != open_final_lsn_) {
            return absl::DataLossError(absl::StrCat(
                "pgoutput Commit at ", FormatLsn(m.commit_lsn), " does not match Begin final_lsn ",
                FormatLsn(open_final_lsn_), " (xid ", open_->xid, ")"));
          }
          CommittedTxn txn = std::move(*open_);
          open_.reset();
          txn.commit_lsn = m.commit_lsn;
          txn.end_lsn = m.end_lsn;
          txn.commit_time = m.commit_time;
          return std::optional<CommittedTxn>(std::move(txn));
        } else if constexpr (std::is_same_v<T, Insert>) {
          if (absl::Status st = need_txn("Insert"); !st.ok()) return st;
          auto relation = relations_.Lookup(m.relation_oid);
          if (!relation.ok()) return relation.status();
          auto event = ExtractOutboxEvent(**relation, m.new_tuple);
          if (!event.ok()) {
            return absl::Status(
                event.status().code(),
                absl::StrCat("outbox row in xid ", open_->xid, " (relation ",
                             (*relation)->namespace_name, ".", (*relation)->relation_name,
                             "): ", event.status().message()));
          }
          open_->events.push_back(*std::move(event));
          ++events_decoded_;
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, Update>) {
          ++ignored_.updates;
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, Delete>) {
          ++ignored_.deletes;
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, Truncate>) {
          ++ignored_.truncates;
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, LogicalMessage>) {
          ++ignored_.messages;
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, Origin>) {
          ++ignored_.origins;
          return std::nullopt;
        } else if constexpr (std::is_same_v<T, Type>) {
          ++ignored_.types;
          return std::nullopt;
        } else {
          static_assert(std::is_same_v<T, Relation>);
          return std::nullopt;  // already in the cache
        }
      },
      message);
}

BatchTracker::BatchTracker(Options options, Lsn checkpoint, Lsn confirmed)
    : options_(options), checkpoint_(checkpoint), confirmable_(std::max(checkpoint, confirmed)) {}

BatchTracker::Action BatchTracker::Add(const CommittedTxn& txn, absl::Time now) {
  if (txn.end_lsn <= checkpoint_) {
    // Already in Kafka. Nothing newer can be open (the stream is in commit order and a batch
    // only holds LSNs above the checkpoint), so it is confirmable as it is.
    if (!batch_open()) confirmable_ = std::max(confirmable_, txn.end_lsn);
    return Action::kSkip;
  }
  if (txn.events.empty() && txn.streamed_events == 0 && !batch_open()) {
    confirmable_ = std::max(confirmable_, txn.end_lsn);
    return Action::kNothing;
  }
  if (!batch_open()) batch_started_ = now;
  ++batch_txns_;
  batch_events_ += txn.events.size() + txn.streamed_events;
  batch_end_lsn_ = txn.end_lsn;
  batch_last_commit_time_ = txn.commit_time;
  return Action::kPublish;
}

bool BatchTracker::Due(absl::Time now) const {
  return batch_open() && (batch_txns_ >= options_.max_txns ||
                          batch_events_ >= options_.max_events || now >= DueAt());
}

absl::Time BatchTracker::DueAt() const {
  if (!batch_open()) return absl::InfiniteFuture();
  return batch_started_ +
         (backlogged_ ? std::max(options_.backlog_age, options_.max_age) : options_.max_age);
}

void BatchTracker::Committed() {
  if (!batch_open()) return;
  checkpoint_ = std::max(checkpoint_, batch_end_lsn_);
  confirmable_ = std::max(confirmable_, batch_end_lsn_);
  Aborted();  // clears the batch
}

void BatchTracker::Aborted() {
  batch_txns_ = 0;
  batch_events_ = 0;
  batch_end_lsn_ = 0;
  batch_last_commit_time_ = 0;
  batch_started_ = absl::InfiniteFuture();
}

void BatchTracker::OnServerPosition(Lsn wal_end, bool in_pg_txn) {
  if (in_pg_txn || batch_open()) return;
  confirmable_ = std::max(confirmable_, wal_end);
}

void ProgressWatch::OnPosition(Lsn confirmed, int64_t lag_bytes, absl::Time now) {
  if (progressed_at_ == absl::InfinitePast() || confirmed > confirmed_ || lag_bytes <= 0) {
    progressed_at_ = now;
  }
  confirmed_ = std::max(confirmed_, confirmed);
  lag_bytes_ = lag_bytes;
}

std::string ProgressWatch::Stalled(absl::Time now) const {
  if (aborts_in_row_ >= max_aborts_) {
    return absl::StrCat(aborts_in_row_, " Kafka transactions in a row aborted");
  }
  if (lag_bytes_ > 0 && progressed_at_ != absl::InfinitePast() &&
      now - progressed_at_ >= stall_after_) {
    return absl::StrCat("lag of ", lag_bytes_, " bytes and the confirmed LSN ",
                        FormatLsn(confirmed_), " has not advanced for ",
                        absl::FormatDuration(now - progressed_at_));
  }
  return "";
}

}  // namespace lottery::cdc
