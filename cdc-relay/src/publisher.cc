#include "lottery/cdc/publisher.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/str_cat.h"
#include "lottery/common/status.h"

namespace lottery::cdc {

std::string TransactionalIdForSlot(const std::string& slot) {
  return absl::StrCat("lottery-cdc-relay.", slot);
}

std::vector<std::pair<std::string, std::string>> EventHeaders(const OutboxEvent& e,
                                                              Lsn commit_end_lsn) {
  std::vector<std::pair<std::string, std::string>> h = {
      {"id", e.id},
      {"messageType", e.type},
      {"aggregatetype", e.aggregatetype},
      {"content-type", e.content_type},
      {"lsn", FormatLsn(commit_end_lsn)},
      {"txid", e.txid},
  };
  h.insert(h.end(), e.headers.begin(), e.headers.end());
  return h;
}

namespace {
// Errors that retrying the same record can never fix.
bool IsPermanentRecordError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
      return true;
    default:
      return false;
  }
}
// Delivery reports: each delivered record's offset, for the transaction's last offsets
// (confirm_gate.h). A record the broker refused for good (e.g. above the topic's
// max.message.bytes) aborts its Kafka transaction; remember its event id so the retry
// dead-letters it instead of failing the same way forever.
void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* d = static_cast<TransactionalProducer::Deliveries*>(opaque);
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (m->offset >= 0) {
      int64_t& last = d->delivered[TopicPartitionKey{rd_kafka_topic_name(m->rkt), m->partition}];
      last = std::max(last, m->offset);
    }
    return;
  }
  if (!IsPermanentRecordError(m->err)) return;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  const void* v = nullptr;
  size_t n = 0;
  if (rd_kafka_header_get_last(hdrs, "id", &v, &n) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
  if (d->rejected.size() < 100000) {
    d->rejected[std::string(static_cast<const char*>(v), n)] =
        absl::StrCat("the broker refused the record: ", rd_kafka_err2str(m->err));
  }
}
}  // namespace

std::optional<std::string> TransactionalProducer::Rejected(const std::string& event_id) const {
  auto it = deliveries_->rejected.find(event_id);
  if (it == deliveries_->rejected.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<std::unique_ptr<TransactionalProducer>> TransactionalProducer::Create(
    const kafka::Properties& props, const std::string& transactional_id,
    std::chrono::milliseconds init_timeout) {
  kafka::Properties p = {
      {"linger.ms", "2"},
      // Java-compatible key hashing, so other clients agree on the partition of a key.
      {"partitioner", "murmur2_random"},
      {"transaction.timeout.ms", "60000"},
      // Bounds the client's queue (its default is 1 GB): a large transaction streams through it
      // at the broker's pace instead of piling up in memory (ProduceRecord waits when full).
      {"queue.buffering.max.kbytes", "32768"},
  };
  for (const auto& [k, v] : props) p[k] = v;
  p["transactional.id"] = transactional_id;
  p["enable.idempotence"] = "true";
  // One produce request in flight per broker, whatever the caller passed. With more, librdkafka
  // 2.0.2 loses records inside a committed transaction: when a batch fails with a retriable
  // error (NOT_LEADER_FOR_PARTITION, as on a partition created a moment ago or during a leader
  // election) and the next batch of the same partition succeeds, it counts the failed batch as
  // "implicitly acked by subsequent batch success" and never sends it again, and
  // commit_transaction succeeds without it (measured: 4 of 30 records of one transaction lost
  // in about 1 run in 15 of cdc_relay_relay_writer_e2etest; docs/compatibility.md).
  p["max.in.flight.requests.per.connection"] = "1";
  ASSIGN_OR_RETURN(auto conf, kafka::MakeConf(p));
  auto deliveries = std::make_unique<Deliveries>();
  rd_kafka_conf_set_dr_msg_cb(conf.get(), OnDelivery);
  rd_kafka_conf_set_opaque(conf.get(), deliveries.get());
  ASSIGN_OR_RETURN(auto rk, kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(conf)));
  kafka::ErrorPtr err(rd_kafka_init_transactions(rk.get(), static_cast<int>(init_timeout.count())));
  if (err) {
    absl::Status st = kafka::StatusFromError(err.get(), "init_transactions");
    if (rd_kafka_error_code(err.get()) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
      return absl::UnavailableError(st.message());
    }
    return st;
  }
  return std::unique_ptr<TransactionalProducer>(
      new TransactionalProducer(std::move(rk), std::move(deliveries)));
}

absl::Status TransactionalProducer::Begin() {
  kafka::ErrorPtr err(rd_kafka_begin_transaction(rk_.get()));
  RETURN_IF_ERROR(kafka::StatusFromError(err.get(), "begin_transaction"));
  in_transaction_ = true;
  deliveries_->delivered.clear();
  return absl::OkStatus();
}

void TransactionalProducer::LearnTopic(const std::string& topic) {
  if (known_topics_.contains(topic)) return;
  // Best effort: on failure the produce path still works, only the first commit waits longer.
  auto ids = kafka::PartitionIds(rk_.get(), topic, std::chrono::seconds(5));
  if (ids.ok() && !ids->empty()) known_topics_.insert(topic);
}

absl::Status TransactionalProducer::ProduceRecord(const kafka::OutRecord& record) {
  const std::string topic(record.topic);
  LearnTopic(topic);
  // A full local queue means the brokers do not take messages: wait a while, then report
  // kUnavailable so the caller can keep PostgreSQL informed and honour SIGTERM.
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  absl::Status st = kafka::Produce(
      rk_.get(), record, std::chrono::steady_clock::now() + std::chrono::seconds(10), &err);
  if (st.ok() || err == RD_KAFKA_RESP_ERR__QUEUE_FULL) return st;
  if (IsPermanentRecordError(err)) {
    // Refused before it entered the transaction: the transaction is intact, the record is bad.
    return absl::InvalidArgumentError(
        absl::StrCat("produce to ", topic, ": ", rd_kafka_err2str(err)));
  }
  if (err == RD_KAFKA_RESP_ERR__STATE || err == RD_KAFKA_RESP_ERR__FENCED ||
      err == RD_KAFKA_RESP_ERR__FATAL) {
    // The transaction is in an error state; commit/abort tells which.
    char buf[512];
    if (rd_kafka_fatal_error(rk_.get(), buf, sizeof(buf)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::FailedPreconditionError(absl::StrCat("Kafka producer fatal error: ", buf));
    }
    return absl::AbortedError(absl::StrCat("produce to ", topic, ": ", rd_kafka_err2str(err)));
  }
  return st;
}

absl::Status TransactionalProducer::Produce(const OutboxEvent& event, Lsn commit_end_lsn) {
  const std::vector<kafka::Header> headers = EventHeaders(event, commit_end_lsn);
  return ProduceRecord(
      {.topic = event.topic, .key = event.aggregateid, .value = event.payload, .headers = headers});
}

absl::Status TransactionalProducer::Produce(const KafkaRecord& record) {
  return ProduceRecord(
      {.topic = record.topic, .key = record.key, .value = record.value, .headers = record.headers});
}

absl::Status TransactionalProducer::ProduceCheckpoint(const std::string& topic,
                                                      const Checkpoint& checkpoint) {
  const std::string value = EncodeCheckpoint(checkpoint);
  return ProduceRecord({.topic = topic, .key = checkpoint.slot, .value = value});
}

absl::Status TransactionalProducer::ProduceKeyed(const std::string& topic, const std::string& key,
                                                 const std::string& value) {
  return ProduceRecord({.topic = topic, .key = key, .value = value});
}

absl::Status TransactionalProducer::Commit(std::chrono::milliseconds timeout) {
  kafka::ErrorPtr err(rd_kafka_commit_transaction(rk_.get(), static_cast<int>(timeout.count())));
  if (!err) {
    in_transaction_ = false;
    committed_offsets_ = std::move(deliveries_->delivered);
    deliveries_->delivered.clear();
    return absl::OkStatus();
  }
  absl::Status st = kafka::StatusFromError(err.get(), "commit_transaction");
  if (st.code() == absl::StatusCode::kInternal &&
      rd_kafka_error_code(err.get()) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return absl::UnavailableError(st.message());
  }
  return st;
}

absl::Status TransactionalProducer::Abort(std::chrono::milliseconds timeout) {
  kafka::ErrorPtr err(rd_kafka_abort_transaction(rk_.get(), static_cast<int>(timeout.count())));
  if (!err) {
    in_transaction_ = false;
    return absl::OkStatus();
  }
  absl::Status st = kafka::StatusFromError(err.get(), "abort_transaction");
  if (st.code() == absl::StatusCode::kInternal &&
      rd_kafka_error_code(err.get()) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
    return absl::UnavailableError(st.message());
  }
  return st;
}

}  // namespace lottery::cdc
