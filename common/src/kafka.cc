#include "lottery/common/kafka.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace lottery::kafka {

absl::StatusOr<ConfPtr> MakeConf(const Properties& props) {
  ConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf.get(), k.c_str(), v.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("Kafka property ", k, ": ", err));
    }
  }
  return conf;
}

absl::StatusOr<KafkaPtr> MakeClient(rd_kafka_type_t type, ConfPtr conf) {
  char err[512];
  rd_kafka_t* k = rd_kafka_new(type, conf.get(), err, sizeof(err));
  if (k == nullptr) return absl::InvalidArgumentError(absl::StrCat("rd_kafka_new: ", err));
  (void)conf.release();  // owned by the handle now
  return KafkaPtr(k);
}

absl::Status StatusFromError(const rd_kafka_error_t* err, const char* what) {
  if (err == nullptr) return absl::OkStatus();
  std::string msg =
      absl::StrCat(what, ": ", rd_kafka_error_name(err), ": ", rd_kafka_error_string(err));
  if (rd_kafka_error_is_fatal(err) || rd_kafka_error_code(err) == RD_KAFKA_RESP_ERR__FENCED ||
      rd_kafka_error_code(err) == RD_KAFKA_RESP_ERR_PRODUCER_FENCED) {
    return absl::FailedPreconditionError(msg);
  }
  if (rd_kafka_error_txn_requires_abort(err)) return absl::AbortedError(msg);
  if (rd_kafka_error_is_retriable(err)) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

absl::Status StatusFromCode(rd_kafka_resp_err_t err, const char* what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", rd_kafka_err2name(err), ": ", rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_COORDINATOR:
    case RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS:
      return absl::UnavailableError(msg);
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR__FATAL:
      return absl::FailedPreconditionError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::Status AddPropertyAssignment(Properties& props, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Kafka property '", assignment, "' is not key=value"));
  }
  props[assignment.substr(0, eq)] = assignment.substr(eq + 1);
  return absl::OkStatus();
}

absl::Status AddPropertyList(Properties& props, const std::string& comma_separated) {
  for (absl::string_view item : absl::StrSplit(comma_separated, ',', absl::SkipEmpty())) {
    absl::Status st = AddPropertyAssignment(props, std::string(item));
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, std::optional<std::string>>> MessageHeaders(
    const rd_kafka_message_t* message) {
  std::vector<std::pair<std::string, std::optional<std::string>>> out;
  rd_kafka_headers_t* hdrs = nullptr;
  if (rd_kafka_message_headers(message, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR || hdrs == nullptr) {
    return out;
  }
  const char* name;
  const void* value;
  size_t size;
  for (size_t i = 0;
       rd_kafka_header_get_all(hdrs, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
    if (value == nullptr) {
      out.emplace_back(name, std::nullopt);
    } else {
      out.emplace_back(name, std::string(static_cast<const char*>(value), size));
    }
  }
  return out;
}

namespace {

absl::StatusOr<KafkaPtr> AdminClient(const std::string& bootstrap) {
  auto conf = MakeConf({{"bootstrap.servers", bootstrap}});
  if (!conf.ok()) return conf.status();
  return MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
}

// Waits for the admin result event and checks every topic result.
absl::Status AwaitTopicResults(rd_kafka_queue_t* q, bool create, const char* what) {
  EventPtr ev(rd_kafka_queue_poll(q, 30000));
  if (ev == nullptr) return absl::UnavailableError(absl::StrCat(what, ": timed out"));
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return StatusFromCode(rd_kafka_event_error(ev.get()), what);
  }
  const rd_kafka_topic_result_t** results;
  size_t n = 0;
  if (create) {
    results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev.get()), &n);
  } else {
    results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev.get()), &n);
  }
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) continue;
    if (create && e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) continue;
    if (!create && e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) continue;
    return StatusFromCode(e,
                          absl::StrCat(what, " ", rd_kafka_topic_result_name(results[i])).c_str());
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CreateTopics(const std::string& bootstrap,
                          const std::map<std::string, int>& partitions_by_topic,
                          const Properties& topic_config) {
  auto admin = AdminClient(bootstrap);
  if (!admin.ok()) return admin.status();
  char err[512];
  std::vector<std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter>> topics;
  std::vector<rd_kafka_NewTopic_t*> raw;
  for (const auto& [name, parts] : partitions_by_topic) {
    rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(name.c_str(), parts, 1, err, sizeof(err));
    if (t == nullptr) return absl::InvalidArgumentError(absl::StrCat("topic ", name, ": ", err));
    for (const auto& [k, v] : topic_config) rd_kafka_NewTopic_set_config(t, k.c_str(), v.c_str());
    topics.emplace_back(t);
    raw.push_back(t);
  }
  QueuePtr q(rd_kafka_queue_new(admin->get()));
  rd_kafka_CreateTopics(admin->get(), raw.data(), raw.size(), nullptr, q.get());
  return AwaitTopicResults(q.get(), true, "create topics");
}

absl::Status DeleteTopics(const std::string& bootstrap, const std::vector<std::string>& names) {
  auto admin = AdminClient(bootstrap);
  if (!admin.ok()) return admin.status();
  std::vector<std::unique_ptr<rd_kafka_DeleteTopic_t, DeleteTopicDeleter>> topics;
  std::vector<rd_kafka_DeleteTopic_t*> raw;
  for (const auto& name : names) {
    topics.emplace_back(rd_kafka_DeleteTopic_new(name.c_str()));
    raw.push_back(topics.back().get());
  }
  QueuePtr q(rd_kafka_queue_new(admin->get()));
  rd_kafka_DeleteTopics(admin->get(), raw.data(), raw.size(), nullptr, q.get());
  return AwaitTopicResults(q.get(), false, "delete topics");
}

}  // namespace lottery::kafka
