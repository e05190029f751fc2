#include <chrono>
#include <map>

#include "absl/strings/str_cat.h"
#include "lottery/cdc/recovery/recover.h"
#include "lottery/common/status.h"

namespace lottery::cdc::recovery {

std::string ProgressKey(const std::string& slot) { return absl::StrCat("recovery/", slot); }

absl::Status ScanTopics(const kafka::Properties& client_props,
                        const std::vector<std::string>& topics, absl::Time since,
                        absl::Duration timeout,
                        const std::function<absl::Status(const rd_kafka_message_t&)>& fn) {
  if (topics.empty()) return absl::OkStatus();
  kafka::Properties props;
  for (const auto& [k, v] : client_props) {
    if (k == "bootstrap.servers" || k.rfind("security.", 0) == 0 || k.rfind("sasl.", 0) == 0 ||
        k.rfind("ssl.", 0) == 0 || k == "client.id") {
      props[k] = v;
    }
  }
  static std::atomic<int> counter{0};
  props["group.id"] = absl::StrCat("lottery-cdc-relay.recovery-scan.", getpid(), ".", counter++);
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
      continue;  // no topic: nothing in it
    }
    if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return kafka::StatusFromCode(md->topics[0].err, "topic metadata");
    }
    for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
      rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), md->topics[0].partitions[p].id)
          ->offset =
          since == absl::InfinitePast() ? RD_KAFKA_OFFSET_BEGINNING : absl::ToUnixMillis(since);
    }
  }
  if (parts->cnt == 0) return absl::OkStatus();
  if (since != absl::InfinitePast()) {
    // Timestamps -> the first offset at or after them (-1: no such record, nothing to read).
    RETURN_IF_ERROR(kafka::StatusFromCode(rd_kafka_offsets_for_times(rk, parts.get(), timeout_ms),
                                          "offsets_for_times"));
  }
  // The end of each partition as of now. A busy transactional producer (the running relay) keeps
  // moving the last stable offset, so "until EOF" could chase it forever: a partition is done at
  // EOF or once a record at or after this end was delivered.
  struct Range {
    int64_t end = 0;
    bool done = false;
  };
  std::map<std::pair<std::string, int32_t>, Range> ranges;
  kafka::TopicPartitionListPtr assign(rd_kafka_topic_partition_list_new(parts->cnt));
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& tp = parts->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR)
      return kafka::StatusFromCode(tp.err, "offsets_for_times");
    if (tp.offset == RD_KAFKA_OFFSET_END ||
        (tp.offset < 0 && tp.offset != RD_KAFKA_OFFSET_BEGINNING)) {
      continue;
    }
    int64_t low = 0, high = 0;
    RETURN_IF_ERROR(kafka::StatusFromCode(
        rd_kafka_query_watermark_offsets(rk, tp.topic, tp.partition, &low, &high, timeout_ms),
        "query_watermark_offsets"));
    int64_t start = tp.offset == RD_KAFKA_OFFSET_BEGINNING ? low : tp.offset;
    if (high <= start) continue;  // nothing to read
    ranges[{tp.topic, tp.partition}] = Range{high};
    rd_kafka_topic_partition_list_add(assign.get(), tp.topic, tp.partition)->offset = tp.offset;
  }
  if (ranges.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(kafka::StatusFromCode(rd_kafka_assign(rk, assign.get()), "assign"));
  size_t left = ranges.size();
  auto deadline = std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(timeout);
  absl::Status result = absl::OkStatus();
  auto mark_done = [&](const rd_kafka_message_t& m) {
    auto it = ranges.find({rd_kafka_topic_name(m.rkt), m.partition});
    if (it != ranges.end() && !it->second.done) {
      it->second.done = true;
      --left;
    }
  };
  while (left > 0 && result.ok()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      result = absl::UnavailableError(absl::StrCat("reading ", topics.front(), "... timed out"));
      break;
    }
    kafka::MessagePtr msg(rd_kafka_consumer_poll(rk, 200));
    if (msg == nullptr) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      mark_done(*msg);
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (msg->err == RD_KAFKA_RESP_ERR__TRANSPORT ||
          msg->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        continue;
      result = kafka::StatusFromCode(msg->err, "reading topics");
      break;
    }
    result = fn(*msg);
    auto it = ranges.find({rd_kafka_topic_name(msg->rkt), msg->partition});
    if (it != ranges.end() && msg->offset >= it->second.end - 1) mark_done(*msg);
  }
  rd_kafka_consumer_close(rk);
  return result;
}

absl::StatusOr<absl::flat_hash_set<std::string>> PublishedIds(
    const kafka::Properties& props, const std::vector<std::string>& topics, absl::Time since,
    absl::Duration timeout) {
  absl::flat_hash_set<std::string> ids;
  RETURN_IF_ERROR(ScanTopics(props, topics, since, timeout, [&](const rd_kafka_message_t& m) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (rd_kafka_message_headers(&m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const void* v = nullptr;
      size_t n = 0;
      if (rd_kafka_header_get_last(hdrs, "id", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          v != nullptr) {
        ids.insert(std::string(static_cast<const char*>(v), n));
      }
    }
    return absl::OkStatus();
  }));
  return ids;
}

absl::StatusOr<CheckpointRecords> ReadCheckpointRecords(const kafka::Properties& props,
                                                        const std::string& topic,
                                                        const std::string& slot,
                                                        absl::Duration timeout) {
  CheckpointRecords latest;
  const std::string progress_key = ProgressKey(slot);
  RETURN_IF_ERROR(ScanTopics(
      props, {topic}, absl::InfinitePast(), timeout,
      [&](const rd_kafka_message_t& m) -> absl::Status {
        if (m.key == nullptr) return absl::OkStatus();
        std::string_view key(static_cast<const char*>(m.key), m.key_len);
        std::string_view value(static_cast<const char*>(m.payload), m.payload ? m.len : 0);
        if (key == progress_key) {
          if (m.payload == nullptr) {
            latest.recovery_progress.reset();
          } else {
            latest.recovery_progress = std::string(value);
          }
        } else if (key == slot) {
          if (m.payload == nullptr) {  // tombstone (drop --delete-checkpoint)
            latest.checkpoint.reset();
          } else {
            ASSIGN_OR_RETURN(latest.checkpoint, DecodeCheckpoint(value));
          }
        }
        return absl::OkStatus();
      }));
  return latest;
}

absl::StatusOr<std::optional<Checkpoint>> ReadLatestCheckpoint(const kafka::Properties& props,
                                                               const std::string& topic,
                                                               const std::string& slot,
                                                               absl::Duration timeout) {
  ASSIGN_OR_RETURN(CheckpointRecords r, ReadCheckpointRecords(props, topic, slot, timeout));
  return r.checkpoint;
}

}  // namespace lottery::cdc::recovery
