// The initial snapshot: outbox rows written before the slot existed.
#include "relay_session.h"

namespace lottery::cdc::internal {
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

}  // namespace lottery::cdc::internal
