#include "lottery/cdc/checkpoint.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "lottery/common/json.h"
#include "lottery/common/status.h"

namespace lottery::cdc {

std::string EncodeCheckpoint(const Checkpoint& c) {
  return json::Dump(json::Json{{"slot", c.slot},
                               {"lsn", FormatLsn(c.lsn)},
                               {"commit_time_us", c.commit_time},
                               {"system_id", c.system_id},
                               {"database", c.database},
                               {"events", c.events},
                               {"written_at_unix_ms", c.written_at_unix_ms},
                               {"dead_lettered", c.dead_lettered},
                               {"last_dead_letter", c.last_dead_letter}});
}

absl::StatusOr<Checkpoint> DecodeCheckpoint(std::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::DataLossError(absl::StrCat("checkpoint record ", why, ": ", std::string(text)));
  };
  auto obj = json::ParseObject(text);
  if (!obj.ok()) return bad(obj.status().message());
  Checkpoint c;
  std::string lsn;
  uint64_t events = 0, dead_lettered = 0;
  for (const absl::Status& st :
       {json::Get(*obj, "slot", c.slot), json::Get(*obj, "lsn", lsn, true),
        json::Get(*obj, "commit_time_us", c.commit_time), json::Get(*obj, "system_id", c.system_id),
        json::Get(*obj, "database", c.database), json::Get(*obj, "events", events),
        json::Get(*obj, "written_at_unix_ms", c.written_at_unix_ms),
        json::Get(*obj, "dead_lettered", dead_lettered),
        json::Get(*obj, "last_dead_letter", c.last_dead_letter)}) {
    if (!st.ok()) return bad(st.message());
  }
  auto parsed = ParseLsn(lsn);
  if (!parsed.ok()) return bad("lsn does not parse");
  c.lsn = *parsed;
  c.events = events;
  c.dead_lettered = dead_lettered;
  return c;
}

absl::Status EnsureCheckpointTopic(const std::string& bootstrap, const std::string& topic) {
  return kafka::CreateTopics(bootstrap, {{topic, 1}}, {{"cleanup.policy", "compact"}});
}

absl::StatusOr<std::optional<Checkpoint>> ReadCheckpoint(const kafka::Properties& client_props,
                                                         const std::string& topic,
                                                         const std::string& slot,
                                                         std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   ReadLatestValue(client_props, topic, slot, slot, timeout));
  if (!value) return std::nullopt;
  ASSIGN_OR_RETURN(Checkpoint c, DecodeCheckpoint(*value));
  return c;
}

absl::StatusOr<std::optional<std::string>> ReadLatestValue(const kafka::Properties& client_props,
                                                           const std::string& topic,
                                                           const std::string& slot,
                                                           const std::string& key,
                                                           std::chrono::milliseconds timeout) {
  kafka::Properties props = client_props;
  props.erase("transactional.id");
  props.erase("enable.idempotence");
  props.erase("partitioner");
  props.erase("linger.ms");
  props.erase("transaction.timeout.ms");
  props["group.id"] = absl::StrCat("lottery-cdc-relay.checkpoint-reader.", slot);
  props["isolation.level"] = "read_committed";
  props["enable.auto.commit"] = "false";
  props["enable.partition.eof"] = "true";
  props["auto.offset.reset"] = "earliest";
  props["allow.auto.create.topics"] = "false";
  props["fetch.wait.max.ms"] = "10";  // the end of a partition shows up at once: fast starts
  ASSIGN_OR_RETURN(auto conf, kafka::MakeConf(props));
  ASSIGN_OR_RETURN(auto consumer, kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(conf)));
  rd_kafka_t* rk = consumer.get();

  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t, &md, static_cast<int>(timeout.count()));
  rd_kafka_topic_destroy(t);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka::StatusFromCode(err, "checkpoint topic metadata");
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> md_holder(
      md, rd_kafka_metadata_destroy);
  if (md->topic_cnt != 1 || md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    return std::nullopt;
  }
  if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return kafka::StatusFromCode(md->topics[0].err, "checkpoint topic metadata");
  }
  kafka::TopicPartitionListPtr assignment(rd_kafka_topic_partition_list_new(4));
  for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(),
                                      md->topics[0].partitions[p].id)
        ->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  if (assignment->cnt == 0) return std::nullopt;
  RETURN_IF_ERROR(kafka::StatusFromCode(rd_kafka_assign(rk, assignment.get()), "assign"));

  std::optional<std::string> latest;
  int eof_left = assignment->cnt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  absl::Status last_error = absl::OkStatus();
  while (eof_left > 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      rd_kafka_consumer_close(rk);
      return absl::UnavailableError(
          absl::StrCat("reading checkpoint topic ", topic, " timed out",
                       last_error.ok() ? "" : absl::StrCat(" (", last_error.message(), ")")));
    }
    kafka::MessagePtr msg(rd_kafka_consumer_poll(rk, 200));
    if (msg == nullptr) continue;
    if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      --eof_left;
      continue;
    }
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      last_error = kafka::StatusFromCode(msg->err, "checkpoint read");
      continue;
    }
    if (msg->key == nullptr ||
        std::string_view(static_cast<const char*>(msg->key), msg->key_len) != key) {
      continue;
    }
    if (msg->payload == nullptr) {  // tombstone: checkpoint deleted (drop)
      latest.reset();
      continue;
    }
    latest.emplace(static_cast<const char*>(msg->payload), msg->len);
  }
  rd_kafka_consumer_close(rk);
  return latest;
}

}  // namespace lottery::cdc
