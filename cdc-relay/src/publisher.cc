#include "lottery/cdc/publisher.h"

#include <chrono>

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

absl::StatusOr<std::unique_ptr<TransactionalProducer>> TransactionalProducer::Create(
    const kafka::Properties& props, const std::string& transactional_id,
    std::chrono::milliseconds init_timeout) {
  kafka::Properties p = {
      {"linger.ms", "2"},
      // Java-compatible key hashing, so other clients agree on the partition of a key.
      {"partitioner", "murmur2_random"},
      {"transaction.timeout.ms", "60000"},
  };
  for (const auto& [k, v] : props) p[k] = v;
  p["transactional.id"] = transactional_id;
  p["enable.idempotence"] = "true";
  ASSIGN_OR_RETURN(auto conf, kafka::MakeConf(p));
  ASSIGN_OR_RETURN(auto rk, kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(conf)));
  kafka::ErrorPtr err(rd_kafka_init_transactions(rk.get(), static_cast<int>(init_timeout.count())));
  if (err) {
    absl::Status st = kafka::StatusFromError(err.get(), "init_transactions");
    if (rd_kafka_error_code(err.get()) == RD_KAFKA_RESP_ERR__TIMED_OUT) {
      return absl::UnavailableError(st.message());
    }
    return st;
  }
  return std::unique_ptr<TransactionalProducer>(new TransactionalProducer(std::move(rk)));
}

absl::Status TransactionalProducer::Begin() {
  kafka::ErrorPtr err(rd_kafka_begin_transaction(rk_.get()));
  RETURN_IF_ERROR(kafka::StatusFromError(err.get(), "begin_transaction"));
  in_transaction_ = true;
  return absl::OkStatus();
}

void TransactionalProducer::LearnTopic(const std::string& topic) {
  if (known_topics_.contains(topic)) return;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk_.get(), topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  // Best effort: on failure the produce path still works, only the first commit waits longer.
  if (rd_kafka_metadata(rk_.get(), 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      known_topics_.insert(topic);
    }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(t);
}

absl::Status TransactionalProducer::ProduceRecord(
    const std::string& topic, const std::string& key, const std::string& value,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  LearnTopic(topic);
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const auto& [k, v] : headers) {
    rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                        static_cast<ssize_t>(v.size()));
  }
  // A full local queue means the brokers do not take messages: wait a while, then report
  // kUnavailable so the caller can keep PostgreSQL informed and honour SIGTERM.
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk_.get(), RD_KAFKA_V_TOPIC(topic.c_str()),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();  // headers now owned
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && std::chrono::steady_clock::now() < give_up) {
      rd_kafka_poll(rk_.get(), 50);  // local queue full: wait for deliveries
      continue;
    }
    rd_kafka_headers_destroy(hdrs);
    if (err == RD_KAFKA_RESP_ERR__STATE || err == RD_KAFKA_RESP_ERR__FENCED ||
        err == RD_KAFKA_RESP_ERR__FATAL) {
      // The transaction is in an error state; commit/abort tells which.
      char buf[512];
      if (rd_kafka_fatal_error(rk_.get(), buf, sizeof(buf)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return absl::FailedPreconditionError(absl::StrCat("Kafka producer fatal error: ", buf));
      }
      return absl::AbortedError(absl::StrCat("produce to ", topic, ": ", rd_kafka_err2str(err)));
    }
    return kafka::StatusFromCode(err, absl::StrCat("produce to ", topic).c_str());
  }
}

absl::Status TransactionalProducer::Produce(const OutboxEvent& event, Lsn commit_end_lsn) {
  return ProduceRecord(event.topic, event.aggregateid, event.payload,
                       EventHeaders(event, commit_end_lsn));
}

absl::Status TransactionalProducer::ProduceCheckpoint(const std::string& topic,
                                                      const Checkpoint& checkpoint) {
  return ProduceRecord(topic, checkpoint.slot, EncodeCheckpoint(checkpoint), {});
}

absl::Status TransactionalProducer::Commit(std::chrono::milliseconds timeout) {
  kafka::ErrorPtr err(rd_kafka_commit_transaction(rk_.get(), static_cast<int>(timeout.count())));
  if (!err) {
    in_transaction_ = false;
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
