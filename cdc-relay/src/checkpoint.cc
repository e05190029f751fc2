#include "lottery/cdc/checkpoint.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "lottery/common/status.h"
#include "simdjson.h"

namespace lottery::cdc {

std::string JsonQuote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

namespace {}  // namespace

std::string EncodeCheckpoint(const Checkpoint& c) {
  return absl::StrCat(
      "{\"slot\":", JsonQuote(c.slot), ",\"lsn\":\"", FormatLsn(c.lsn),
      "\",\"commit_time_us\":", c.commit_time, ",\"system_id\":", JsonQuote(c.system_id),
      ",\"database\":", JsonQuote(c.database), ",\"events\":", c.events,
      ",\"written_at_unix_ms\":", c.written_at_unix_ms, ",\"dead_lettered\":", c.dead_lettered,
      ",\"last_dead_letter\":", JsonQuote(c.last_dead_letter), "}");
}

absl::StatusOr<Checkpoint> DecodeCheckpoint(std::string_view json) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json.data(), json.size());
  Checkpoint c;
  auto bad = [&](const char* why) {
    return absl::DataLossError(absl::StrCat("checkpoint record ", why, ": ", std::string(json)));
  };
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc)) return bad("is not JSON");
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj)) return bad("is not a JSON object");
  bool have_lsn = false;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return bad("has a bad key");
    auto value = field.value();
    std::string_view sv;
    int64_t i64;
    uint64_t u64;
    if (key == "slot") {
      if (value.get_string().get(sv)) return bad("slot is not a string");
      c.slot = std::string(sv);
    } else if (key == "lsn") {
      if (value.get_string().get(sv)) return bad("lsn is not a string");
      auto lsn = ParseLsn(sv);
      if (!lsn.ok()) return bad("lsn does not parse");
      c.lsn = *lsn;
      have_lsn = true;
    } else if (key == "commit_time_us") {
      if (value.get_int64().get(i64)) return bad("commit_time_us is not an integer");
      c.commit_time = i64;
    } else if (key == "system_id") {
      if (value.get_string().get(sv)) return bad("system_id is not a string");
      c.system_id = std::string(sv);
    } else if (key == "database") {
      if (value.get_string().get(sv)) return bad("database is not a string");
      c.database = std::string(sv);
    } else if (key == "events") {
      if (value.get_uint64().get(u64)) return bad("events is not an integer");
      c.events = u64;
    } else if (key == "written_at_unix_ms") {
      if (value.get_int64().get(i64)) return bad("written_at_unix_ms is not an integer");
      c.written_at_unix_ms = i64;
    } else if (key == "dead_lettered") {
      if (value.get_uint64().get(u64)) return bad("dead_lettered is not an integer");
      c.dead_lettered = u64;
    } else if (key == "last_dead_letter") {
      if (value.get_string().get(sv)) return bad("last_dead_letter is not a string");
      c.last_dead_letter = std::string(sv);
    }
  }
  if (!have_lsn) return bad("has no lsn");
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
