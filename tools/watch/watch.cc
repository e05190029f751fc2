#include "watch.h"

#include <unistd.h>

#include <chrono>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "lottery/domain/award.h"

namespace lottery::watch {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Where(const RecordView& r) {
  return absl::StrCat("[id=", r.Header("id").value_or("-"),
                      " messageType=", r.Header("messageType").value_or("-"), " p", r.partition,
                      "@", r.offset, "]");
}

// Partition count of `topic`, 0 when it does not exist (yet) or the cluster does not answer.
int PartitionCount(rd_kafka_t* rk, const std::string& topic) {
  auto ids = kafka::PartitionIds(rk, topic, std::chrono::seconds(5));
  return ids.ok() ? static_cast<int>(ids->size()) : 0;
}

// Adds partitions [from, to) of `topic` to the assignment, each at its start offset.
absl::Status AssignNew(rd_kafka_t* rk, const std::string& topic, int from, int to,
                       bool from_beginning, int64_t start_ms) {
  kafka::TopicPartitionListPtr list(rd_kafka_topic_partition_list_new(to - from));
  for (int p = from; p < to; ++p) {
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset =
        from_beginning ? RD_KAFKA_OFFSET_BEGINNING : start_ms;
  }
  if (!from_beginning) {
    // First offset whose timestamp >= start_ms; -1 (none yet) means "from the end".
    rd_kafka_resp_err_t err = rd_kafka_offsets_for_times(rk, list.get(), 10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return kafka::StatusFromCode(err, "offsets_for_times");
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].offset < 0) list->elems[i].offset = RD_KAFKA_OFFSET_END;
    }
  }
  kafka::ErrorPtr error(rd_kafka_incremental_assign(rk, list.get()));
  return kafka::StatusFromError(error.get(), "assign");
}

}  // namespace

std::optional<std::string> RecordView::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

absl::StatusOr<lottery::v1::AwardCreated> DecodeAward(
    const std::string& value, const std::optional<std::string>& content_type) {
  lottery::v1::AwardCreated award;
  const std::string ct = content_type.value_or("");
  if (ct.empty() || absl::StartsWithIgnoreCase(ct, "application/x-protobuf")) {
    if (!award.ParseFromString(value))
      return absl::InvalidArgumentError("cannot parse binary lottery.v1.AwardCreated");
    return award;
  }
  if (absl::StartsWithIgnoreCase(ct, "application/json")) {
    auto st = google::protobuf::util::JsonStringToMessage(value, &award);
    if (!st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot parse AwardCreated JSON: ", st.message().as_string()));
    }
    return award;
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported content-type '", ct, "'"));
}

std::pair<Outcome, std::string> Inspect(const RecordView& r) {
  auto type = r.Header("messageType");
  if (type.has_value() && *type != kAwardMessageType) {
    return {Outcome::kSkipped, absl::StrCat("skip (not an award) ", Where(r))};
  }
  auto award = DecodeAward(r.value, r.Header("content-type"));
  if (!award.ok()) {
    return {Outcome::kUndecodable,
            absl::StrCat("UNDECODABLE ", award.status().message(), " ", Where(r))};
  }
  absl::Status check = domain::VerifyAward(*award);
  std::string line = absl::StrCat(
      "award lottery=", award->lottery_id(), " game=", award->game_id(),
      " winner=", award->player_id(), " win_sum=", award->win_sum(),
      " participants=", award->proof().participants_size(),
      " proof=", check.ok() ? "verified" : absl::StrCat("FAILED (", check.message(), ")"), " ",
      Where(r));
  return {check.ok() ? Outcome::kVerified : Outcome::kFailed, std::move(line)};
}

absl::StatusOr<Stats> Watch(const Options& o, std::ostream& out,
                            const std::function<bool()>& stop) {
  kafka::Properties props = {
      {"bootstrap.servers", o.bootstrap},
      {"group.id", absl::StrCat("lottery-watch-", getpid(), "-", std::random_device{}())},
      {"isolation.level", "read_committed"},
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"auto.offset.reset", o.from_beginning ? "earliest" : "latest"},
      {"client.id", "lottery-watch"}};
  for (const auto& [k, v] : o.props) props[k] = v;
  auto conf = kafka::MakeConf(props);
  if (!conf.ok()) return conf.status();
  auto client = kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!client.ok()) return client.status();
  rd_kafka_t* rk = client->get();

  const int64_t start_ms = NowMs();
  const auto started = Clock::now();
  auto next_metadata = started;
  int assigned = 0;
  Stats s;
  while (!(stop && stop())) {
    if (o.timeout_ms > 0 && Clock::now() - started >= std::chrono::milliseconds(o.timeout_ms))
      break;
    if (Clock::now() >= next_metadata) {
      int n = PartitionCount(rk, o.topic);
      if (n > assigned) {
        if (auto st = AssignNew(rk, o.topic, assigned, n, o.from_beginning, start_ms); !st.ok())
          return st;
        assigned = n;
      }
      next_metadata = Clock::now() + std::chrono::milliseconds(assigned == 0 ? 500 : 5000);
    }
    if (assigned == 0) {
      rd_kafka_poll(rk, 200);
      continue;
    }
    kafka::MessagePtr msg(rd_kafka_consumer_poll(rk, 200));
    if (msg == nullptr || msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
    if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR)
      continue;  // transient consumer errors: librdkafka retries
    RecordView r;
    r.partition = msg->partition;
    r.offset = msg->offset;
    if (msg->payload != nullptr) r.value.assign(static_cast<const char*>(msg->payload), msg->len);
    for (auto& [name, value] : kafka::MessageHeaders(msg.get())) {
      r.headers.emplace_back(name, value.value_or(""));
    }
    auto [outcome, line] = Inspect(r);
    out << line << std::endl;
    switch (outcome) {
      case Outcome::kVerified:
        ++s.verified;
        ++s.awards;
        break;
      case Outcome::kFailed:
        ++s.failed;
        ++s.awards;
        break;
      case Outcome::kUndecodable:
        ++s.undecodable;
        break;
      case Outcome::kSkipped:
        ++s.skipped;
        break;
    }
    if (o.max > 0 && s.awards >= o.max) {
      s.reached_max = true;
      break;
    }
  }
  rd_kafka_consumer_close(rk);
  return s;
}

}  // namespace lottery::watch
