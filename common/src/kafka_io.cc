// PartitionIds, Produce and ReadToEnd: the metadata, produce and read-to-the-end loops that every
// Kafka client in the tree needs, each written once with one error and deadline policy.
#include <unistd.h>

#include <atomic>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "lottery/common/kafka.h"
#include "lottery/common/status.h"

namespace lottery::kafka {

namespace {

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

struct TopicDeleter {
  void operator()(rd_kafka_topic_t* t) const { rd_kafka_topic_destroy(t); }
};
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;

using Clock = std::chrono::steady_clock;

int Millis(std::chrono::milliseconds d) {
  return static_cast<int>(std::max<int64_t>(0, d.count()));
}

// The properties a reader takes from a client's: where the cluster is and how to reach it.
Properties ConnectionProperties(const Properties& client) {
  Properties out;
  for (const auto& [k, v] : client) {
    if (k == "bootstrap.servers" || k == "client.id" || k.rfind("security.", 0) == 0 ||
        k.rfind("sasl.", 0) == 0 || k.rfind("ssl.", 0) == 0) {
      out[k] = v;
    }
  }
  return out;
}

absl::StatusOr<KafkaPtr> Consumer(const ReadToEndOptions& o, const char* isolation) {
  Properties props = ConnectionProperties(o.client);
  static std::atomic<int> counter{0};
  props["group.id"] =
      o.group_id.empty() ? absl::StrCat("lottery-reader.", getpid(), ".", counter++) : o.group_id;
  props["isolation.level"] = isolation;
  props["enable.auto.commit"] = "false";
  props["enable.partition.eof"] = "true";
  props["auto.offset.reset"] = "earliest";
  props["allow.auto.create.topics"] = "false";
  props["fetch.wait.max.ms"] = "10";  // the end of a partition shows at once
  ASSIGN_OR_RETURN(ConfPtr conf, MakeConf(props));
  return MakeClient(RD_KAFKA_CONSUMER, std::move(conf));
}

// Each partition's start and the end fixed for this read.
struct Range {
  int64_t end = 0;
  bool done = false;
  std::optional<Clock::time_point> below_end_since;  // an end-of-partition below `end` seen
};
using Key = std::pair<std::string, int32_t>;

// The partitions of `topics` at their start positions (offsets_for_times when `since` is set).
absl::StatusOr<TopicPartitionListPtr> StartPositions(rd_kafka_t* rk,
                                                     const std::vector<std::string>& topics,
                                                     const ReadToEndOptions& o) {
  TopicPartitionListPtr parts(rd_kafka_topic_partition_list_new(16));
  for (const std::string& topic : topics) {
    ASSIGN_OR_RETURN(std::vector<int32_t> ids, PartitionIds(rk, topic, o.timeout));
    for (int32_t id : ids) {
      rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), id)->offset =
          o.since_unix_ms ? *o.since_unix_ms : RD_KAFKA_OFFSET_BEGINNING;
    }
  }
  if (o.since_unix_ms && parts->cnt > 0) {
    // Timestamps -> the first offset at or after them (-1: no such record, nothing to read).
    RETURN_IF_ERROR(StatusFromCode(rd_kafka_offsets_for_times(rk, parts.get(), Millis(o.timeout)),
                                   "offsets_for_times"));
  }
  return parts;
}

// The low and high watermarks of one partition. A partition that was just created (or whose
// leader moves) answers NOT_LEADER for a moment: retriable errors are tried again until
// `deadline`.
absl::Status Watermarks(rd_kafka_t* rk, const rd_kafka_topic_partition_t& tp,
                        Clock::time_point deadline, int64_t& low, int64_t& high) {
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    absl::Status st = StatusFromCode(
        rd_kafka_query_watermark_offsets(rk, tp.topic, tp.partition, &low, &high,
                                         Millis(std::max(left, std::chrono::milliseconds(1)))),
        absl::StrCat("query_watermark_offsets of ", tp.topic, "/", tp.partition).c_str());
    if (st.ok() || st.code() != absl::StatusCode::kUnavailable || Clock::now() >= deadline) {
      return st;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace

absl::StatusOr<std::vector<int32_t>> PartitionIds(rd_kafka_t* rk, const std::string& topic,
                                                  std::chrono::milliseconds timeout) {
  TopicPtr t(rd_kafka_topic_new(rk, topic.c_str(), nullptr));
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t.get(), &raw, Millis(timeout));
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return StatusFromCode(err, absl::StrCat("metadata of ", topic).c_str());
  }
  MetadataPtr md(raw);
  std::vector<int32_t> ids;
  if (md->topic_cnt != 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    return ids;  // no such topic
  }
  if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return StatusFromCode(md->topics[0].err, absl::StrCat("metadata of ", topic).c_str());
  }
  for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
    ids.push_back(md->topics[0].partitions[p].id);
  }
  return ids;
}

absl::Status AssignAllPartitions(rd_kafka_t* rk, const std::string& topic, int64_t offset,
                                 std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(std::vector<int32_t> ids, PartitionIds(rk, topic, timeout));
  if (ids.empty()) return absl::NotFoundError(absl::StrCat("topic ", topic, " does not exist"));
  TopicPartitionListPtr parts(rd_kafka_topic_partition_list_new(static_cast<int>(ids.size())));
  for (int32_t id : ids)
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), id)->offset = offset;
  return StatusFromCode(rd_kafka_assign(rk, parts.get()), "assign");
}

absl::Status Produce(rd_kafka_t* rk, const OutRecord& r, Clock::time_point deadline,
                     rd_kafka_resp_err_t* refused) {
  const std::string topic(r.topic);
  void* key = r.key ? const_cast<char*>(r.key->data()) : nullptr;
  const size_t key_len = r.key ? r.key->size() : 0;
  void* value = r.value ? const_cast<char*>(r.value->data()) : nullptr;
  const size_t value_len = r.value ? r.value->size() : 0;
  while (true) {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!r.headers.empty()) {
      hdrs = rd_kafka_headers_new(r.headers.size());
      for (const auto& [k, v] : r.headers) {
        rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(),
                            static_cast<ssize_t>(v.size()));
      }
    }
    rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(r.partition),
        RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(r.opaque), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();  // headers owned by it now
    if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && Clock::now() < deadline) {
      rd_kafka_poll(rk, 50);  // serve delivery reports: that is what frees the queue
      continue;
    }
    if (refused != nullptr) *refused = err;
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      return absl::UnavailableError(absl::StrCat(
          "produce to ", topic, ": the local queue stayed full (the brokers do not take records)"));
    }
    return StatusFromCode(err, absl::StrCat("produce to ", topic).c_str());
  }
}

absl::Status ReadToEnd(const std::vector<std::string>& topics, const ReadToEndOptions& o,
                       const std::function<absl::Status(const rd_kafka_message_t&)>& fn) {
  if (topics.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(KafkaPtr consumer, Consumer(o, "read_committed"));
  rd_kafka_t* rk = consumer.get();
  ASSIGN_OR_RETURN(TopicPartitionListPtr parts, StartPositions(rk, topics, o));
  // The ends: as read_committed sees them (this handle), or the high watermarks as a
  // read_uncommitted handle sees them when in-flight markers are to be waited for.
  KafkaPtr peek;
  if (o.marker_grace.count() > 0) {
    ASSIGN_OR_RETURN(peek, Consumer(o, "read_uncommitted"));
  }
  const Clock::time_point deadline = Clock::now() + o.timeout;
  std::map<Key, Range> ranges;
  TopicPartitionListPtr assignment(rd_kafka_topic_partition_list_new(std::max(1, parts->cnt)));
  for (int i = 0; i < parts->cnt; ++i) {
    const auto& tp = parts->elems[i];
    if (tp.err != RD_KAFKA_RESP_ERR_NO_ERROR) return StatusFromCode(tp.err, "offsets_for_times");
    if (tp.offset == RD_KAFKA_OFFSET_END ||
        (tp.offset < 0 && tp.offset != RD_KAFKA_OFFSET_BEGINNING)) {
      continue;  // nothing at or after `since`
    }
    int64_t low = 0, high = 0;
    RETURN_IF_ERROR(Watermarks(peek ? peek.get() : rk, tp, deadline, low, high));
    const int64_t start = tp.offset == RD_KAFKA_OFFSET_BEGINNING ? low : tp.offset;
    if (high <= start) continue;  // nothing to read
    ranges[{tp.topic, tp.partition}] = Range{.end = high};
    rd_kafka_topic_partition_list_add(assignment.get(), tp.topic, tp.partition)->offset = tp.offset;
  }
  peek.reset();
  if (ranges.empty()) return absl::OkStatus();
  RETURN_IF_ERROR(StatusFromCode(rd_kafka_assign(rk, assignment.get()), "assign"));

  size_t left = ranges.size();
  auto finish = [&](Range& r) {
    if (!r.done) {
      r.done = true;
      --left;
    }
  };
  absl::Status result = absl::OkStatus();
  absl::Status last_error = absl::OkStatus();
  while (left > 0 && result.ok()) {
    const Clock::time_point now = Clock::now();
    for (auto& [key, r] : ranges) {
      // An end-of-partition below the fixed end that stays there: an open transaction.
      if (!r.done && r.below_end_since && now - *r.below_end_since >= o.marker_grace) finish(r);
    }
    if (left == 0) break;
    if (now >= deadline) {
      result = absl::UnavailableError(absl::StrCat(
          "reading ", topics.front(), topics.size() > 1 ? " (and others)" : "",
          " to its end: ", left, " partition(s) not read within ", o.timeout.count(), " ms",
          last_error.ok() ? "" : absl::StrCat(" (", last_error.message(), ")")));
      break;
    }
    MessagePtr msg(rd_kafka_consumer_poll(rk, 100));
    if (msg == nullptr) continue;
    auto it = ranges.find({rd_kafka_topic_name(msg->rkt), msg->partition});
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (it == ranges.end()) continue;
      if (msg->offset >= it->second.end || o.marker_grace.count() == 0) {
        finish(it->second);
      } else if (!it->second.below_end_since) {
        it->second.below_end_since = Clock::now();
      }
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last_error = StatusFromCode(msg->err, "reading to the end");
      if (last_error.code() == absl::StatusCode::kUnavailable) continue;  // transport: retried
      result = last_error;
      break;
    }
    if (it == ranges.end() || it->second.done) continue;
    result = fn(*msg);
    if (msg->offset >= it->second.end - 1) finish(it->second);
  }
  rd_kafka_consumer_close(rk);
  return result;
}

}  // namespace lottery::kafka
