#include "producer.h"

#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lottery::stakegen {
namespace {

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      out += absl::StrFormat("\\u%04x", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::string Summary::ToJson() const {
  std::string out = absl::StrFormat(
      R"({"topic":"%s","format":"%s","sent":%d,"valid":%d,"duplicates":%d,"malformed":%d,"failed":%d,"elapsed_s":%.3f,"rate":%.1f)",
      JsonEscape(topic), std::string(ToString(format)), sent, valid, duplicates, malformed, failed,
      elapsed_s, rate);
  if (!first_error.empty()) absl::StrAppend(&out, R"(,"error":")", JsonEscape(first_error), "\"");
  out += "}";
  return out;
}

void Publisher::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<Publisher*>(opaque);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    self->delivered_.fetch_add(1);
    return;
  }
  self->failed_.fetch_add(1);
  std::lock_guard<std::mutex> lock(self->error_mu_);
  self->last_error_ = rd_kafka_err2str(msg->err);
}

absl::StatusOr<std::unique_ptr<Publisher>> Publisher::Create(const PublishConfig& config) {
  std::unique_ptr<Publisher> p(new Publisher(config));
  kafka::Properties props = {{"bootstrap.servers", config.bootstrap},
                             {"enable.idempotence", "true"},
                             {"linger.ms", "5"},
                             {"client.id", "lottery-stakegen"},
                             // Keyless messages go to a random partition each, not in sticky
                             // batches: one game's stakes spread over all partitions, which is
                             // what the writer must cope with.
                             {"sticky.partitioning.linger.ms", "0"},
                             // librdkafka 2.0.2 can count a batch that failed with a retriable
                             // error as delivered when the next one succeeds (see the relay's
                             // publisher.cc): one request in flight per broker avoids it.
                             {"max.in.flight.requests.per.connection", "1"}};
  for (const auto& [k, v] : config.props) props[k] = v;
  auto conf = kafka::MakeConf(props);
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(conf->get(), p.get());
  rd_kafka_conf_set_dr_msg_cb(conf->get(), &Publisher::OnDelivery);
  auto client = kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!client.ok()) return client.status();
  p->producer_ = std::move(*client);
  return p;
}

Publisher::~Publisher() {
  if (producer_ != nullptr) rd_kafka_flush(producer_.get(), config_.flush_timeout_ms);
}

absl::StatusOr<Summary> Publisher::Publish(Generator& gen, int64_t count, double rate,
                                           const std::function<bool()>& stop) {
  std::lock_guard<std::mutex> lock(publish_mu_);
  rd_kafka_t* rk = producer_.get();
  Summary s;
  s.topic = config_.topic;
  const int64_t delivered0 = delivered_.load(), failed0 = failed_.load();
  {
    std::lock_guard<std::mutex> elock(error_mu_);
    last_error_.clear();
  }
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < count; ++i) {
    if (stop && stop()) break;
    if (rate > 0) {
      const auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                   std::chrono::duration<double>(static_cast<double>(i) / rate));
      for (auto now = std::chrono::steady_clock::now(); now < due;
           now = std::chrono::steady_clock::now()) {
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(due - now).count();
        if (ms > 0) {
          rd_kafka_poll(rk, static_cast<int>(std::min<int64_t>(ms, 100)));
        } else {
          rd_kafka_poll(rk, 0);
          std::this_thread::sleep_until(due);
        }
        if (stop && stop()) break;
      }
      if (stop && stop()) break;
    }
    Message m = gen.Next();
    absl::Status produced =
        kafka::Produce(rk, {.topic = config_.topic, .value = m.value, .headers = m.headers},
                       std::chrono::milliseconds(config_.flush_timeout_ms));
    if (!produced.ok()) {
      rd_kafka_flush(rk, config_.flush_timeout_ms);
      return produced;
    }
    switch (m.kind) {
      case Kind::kValid:
        ++s.valid;
        break;
      case Kind::kDuplicate:
        ++s.duplicates;
        break;
      case Kind::kMalformed:
        ++s.malformed;
        break;
    }
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, config_.flush_timeout_ms);
  const auto end = std::chrono::steady_clock::now();
  s.format = gen.format();
  s.sent = delivered_.load() - delivered0;
  s.failed = failed_.load() - failed0;
  s.elapsed_s = std::chrono::duration<double>(end - start).count();
  s.rate = s.elapsed_s > 0 ? static_cast<double>(s.sent) / s.elapsed_s : 0;
  {
    std::lock_guard<std::mutex> elock(error_mu_);
    s.first_error = last_error_;
  }
  if (ferr != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat("flush: ", rd_kafka_outq_len(rk),
                                               " messages still undelivered after ",
                                               config_.flush_timeout_ms, " ms"));
  }
  return s;
}

}  // namespace lottery::stakegen
