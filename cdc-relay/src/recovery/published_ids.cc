#include <chrono>
#include <map>

#include "absl/strings/str_cat.h"
#include "lottery/cdc/recovery/recover.h"
#include "lottery/common/status.h"

namespace lottery::cdc::recovery {

std::string ProgressKey(const std::string& slot) { return absl::StrCat("recovery/", slot); }

absl::StatusOr<absl::flat_hash_set<std::string>> PublishedIds(const kafka::Properties& client_props,
                                                              const std::vector<std::string>& topics,
                                                              absl::Time since,
                                                              absl::Duration timeout) {
  absl::flat_hash_set<std::string> ids;
  if (topics.empty()) return ids;
  kafka::Properties props;
  for (const auto& [k, v] : client_props) {
    if (k == "bootstrap.servers" || k.rfind("security.", 0) == 0 || k.rfind("sasl.", 0) == 0 ||
        k.rfind("ssl.", 0) == 0 || k == "client.id") {
      props[k] = v;
    }
  }
  static std::atomic<int> counter{0};
  props["group.id"] = absl::StrCat("lottery-cdc-relay.recover-scan.", getpid(), ".", counter++);
  props["isolation.level"] = "read_committed";
  props["enable.auto.commit"] = "false";
  props["enable.partition.eof"] = "true";
  props["auto.offset.reset"] = "earliest";
  props["allow.auto.create.topics"] = "false";
  ASSIGN_OR_RETURN(auto conf, kafka::MakeConf(props));
  ASSIGN_OR_RETURN(auto consumer, kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(conf)));
  rd_kafka_t* rk = consumer.get();
  const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(timeout));

  kafka::TopicPartitionListPtr parts(rd_kafka_topic_partition_list_new(16));
  for (const std::string& topic : topics) {
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, timeout_ms);
    rd_kafka_topic_destroy(t);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka::StatusFromCode(err, "topic metadata");
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> holder(
        md, rd_kafka_metadata_destroy);
    if (md->topic_cnt != 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      continue;  // no topic: nothing published there
    }
    if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafka::StatusFromCode(md->topics[0].err, "topic metadata");
    }
    for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), md->topics[0].partitions[p].id)
          ->offset = since == absl::InfinitePast() ? RD_KAFKA_OFFSET_BEGINNING
                                                   : absl::ToUnixMillis(since);
    }
  }
  if (parts->cnt == 0) return ids;
  if (since != absl::InfinitePast()) {
    // Timestamps -> the first offset at or after them (-1: no such record, nothing to read).
    RETURN_IF_ERROR(kafka::StatusFromCode(rd_kafka_offsets_for_times(rk, parts.get(), timeout_ms),
                                          "offsets_for_times"));
    kafka::TopicPartitionListPtr keep(rd_kafka_topic_partition_list_new(parts->cnt));
    for (int i = 0; i < parts->cnt; ++i) {
      const auto& tp = parts->elems[i];
      if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return kafka::StatusFromCode(tp.err, "offsets_for_times");
      }
      if (tp.offset >= 0) {
        rd_kafka_topic_partition_list_add(keep.get(), tp.topic, tp.partition)->offset = tp.offset;
      }
    }
    parts = std::move(keep);
    if (parts->cnt == 0) return ids;
  }
  RETURN_IF_ERROR(kafka::StatusFromCode(rd_kafka_assign(rk, parts.get()), "assign"));
  std::map<std::pair<std::string, int>, bool> at_end;
  for (int i = 0; i < parts->cnt; ++i) at_end[{parts->elems[i].topic, parts->elems[i].partition}] = false;
  size_t left = at_end.size();
  auto deadline = std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(timeout);
  absl::Status result = absl::OkStatus();
  while (left > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result = absl::UnavailableError("reading the destination topics for published ids timed out");
      break;
    }
    kafka::MessagePtr msg(rd_kafka_consumer_poll(rk, 200));
    if (msg == nullptr) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      bool& done = at_end[{rd_kafka_topic_name(msg->rkt), msg->partition}];
      if (!done) {
        done = true;
        --left;
      }
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err == RD_KAFKA_RESP_ERR__TRANSPORT || msg->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) continue;
      result = kafka::StatusFromCode(msg->err, "reading destination topics");
      break;
    }
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(msg.get(), &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const void* v = nullptr;
      size_t n = 0;
      if (rd_kafka_header_get_last(hdrs, "id", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR && v != nullptr) {
        ids.insert(std::string(static_cast<const char*>(v), n));
      }
    }
  }
  rd_kafka_consumer_close(rk);
  if (!result.ok()) return result;
  return ids;
}

}  // namespace lottery::cdc::recovery
