// The Kafka side of the relay: a transactional producer whose transactional.id is derived from the
// slot (a second relay on the same slot fences the first), producing outbox events and the
// checkpoint record inside one Kafka transaction.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/cdc/confirm_gate.h"
#include "lottery/cdc/lsn.h"
#include "lottery/cdc/outbox_event.h"
#include "lottery/cdc/record_guard.h"
#include "lottery/common/kafka.h"

namespace lottery::cdc {

// "lottery-cdc-relay.<slot>"
std::string TransactionalIdForSlot(const std::string& slot);

// Kafka headers of an outbox record, in order: id, messageType, aggregatetype, content-type,
// lsn (end LSN of the PostgreSQL commit, "X/Y", the same value the checkpoint stores), txid,
// then the row's own extra headers.
std::vector<std::pair<std::string, std::string>> EventHeaders(const OutboxEvent& event,
                                                              Lsn commit_end_lsn);

// Not thread-safe. Status codes follow lottery::kafka::StatusFromError: kAborted -> call Abort()
// and redo from the last checkpoint; kFailedPrecondition -> fenced or fatal, stop; kUnavailable
// -> Kafka unreachable, retry the same call later. The produce calls return kInvalidArgument when
// the client refused THIS record for good (too large, invalid or forbidden topic): the
// transaction is intact and the caller dead-letters the record (record_guard.h).
class TransactionalProducer {
 public:
  // `props` carries bootstrap.servers and any pass-through properties; transactional.id is set
  // here. Runs init_transactions, which fences an older producer with the same id and aborts its
  // open transaction.
  static absl::StatusOr<std::unique_ptr<TransactionalProducer>> Create(
      const kafka::Properties& props, const std::string& transactional_id,
      std::chrono::milliseconds init_timeout = std::chrono::seconds(60));

  absl::Status Begin();
  // Produces one outbox event (topic = event.topic, key = aggregateid, value = payload).
  absl::Status Produce(const OutboxEvent& event, Lsn commit_end_lsn);
  // Produces a prepared record (a dead letter).
  absl::Status Produce(const KafkaRecord& record);
  // Produces the checkpoint record (key = slot) into `topic`.
  absl::Status ProduceCheckpoint(const std::string& topic, const Checkpoint& checkpoint);
  // Produces a keyed record with no headers (progress records on the checkpoint topic).
  absl::Status ProduceKeyed(const std::string& topic, const std::string& key,
                            const std::string& value);
  // Produces any record into the open transaction (a tombstone: value = nullopt), with the error
  // mapping of every call above: kInvalidArgument for a record the broker refuses for good
  // (the transaction is intact), kAborted / kFailedPrecondition when the transaction or the
  // producer is broken, kUnavailable when the local queue stays full for 10 s.
  absl::Status ProduceRecord(const kafka::OutRecord& record);
  absl::Status Commit(std::chrono::milliseconds timeout);
  absl::Status Abort(std::chrono::milliseconds timeout);
  bool in_transaction() const { return in_transaction_; }
  // Serves librdkafka callbacks; call regularly.
  void Poll() { rd_kafka_poll(rk_.get(), 0); }
  rd_kafka_t* get() const { return rk_.get(); }
  // Why the broker refused the record of this event id for good in an earlier (aborted) Kafka
  // transaction of this producer, if it did (delivery reports; served by Poll, Commit, Abort).
  std::optional<std::string> Rejected(const std::string& event_id) const;
  // The highest offset per partition of the records delivered in the transaction that the last
  // successful Commit() closed (delivery reports; Commit serves them all before it returns).
  const LastOffsets& committed_offsets() const { return committed_offsets_; }

  // Delivery reports land here (librdkafka's opaque).
  struct Deliveries {
    absl::flat_hash_map<std::string, std::string> rejected;  // event id -> why
    LastOffsets delivered;                                   // the open transaction's
  };

 private:
  TransactionalProducer(kafka::KafkaPtr rk, std::unique_ptr<Deliveries> deliveries)
      : deliveries_(std::move(deliveries)), rk_(std::move(rk)) {}
  // Fetches the metadata of a topic the first time it is produced to: librdkafka would otherwise
  // wait for its next metadata refresh (~1 s) inside the first commit.
  void LearnTopic(const std::string& topic);
  std::unique_ptr<Deliveries> deliveries_;  // before rk_
  kafka::KafkaPtr rk_;
  LastOffsets committed_offsets_;
  bool in_transaction_ = false;
  std::set<std::string> known_topics_;
};

}  // namespace lottery::cdc
