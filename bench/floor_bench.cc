// Driver of the floor in bench/sections/e2e.sh (`make bench`): the same durable path as the
// pipeline, with no lottery logic, so that e2e and relay latencies can be quoted as ratios of what
// this machine's PostgreSQL and Kafka cost at the same rate, in the same run.
//
//   lottery-floor-bench --prefix P --pg-dsn DSN run --rate 1000 --warmup-s 5 --seconds 25
//       -> prints "rate_per_s=.. p50_ms=.. p99_ms=.. measured=.. missing=.. duplicates=.."
//   lottery-floor-bench --prefix P delete-topics
//
// The path, per record: a paced idempotent producer sends it to P.floor.in (linger.ms=0); one
// service thread consumes it, inserts one row per record together with the consumed offsets in
// one durable PostgreSQL transaction (a single autocommit statement, synchronous_commit as the
// server has it), then produces one record per row inside a Kafka transaction and commits it; a
// read_committed consumer of P.floor.out receives it. The service takes whatever has arrived when
// it is free (no batch window, no linger), which is the least any exactly-once consume -> write ->
// publish service must do. Latency: monotonic clock, produce() call -> the consumer's poll.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lottery/common/cli.h"
#include "lottery/common/kafka.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"

namespace {

using Mono = std::chrono::steady_clock;
using lottery::kafka::KafkaPtr;
using lottery::kafka::MessagePtr;

int Fail(const std::string& what) {
  fprintf(stderr, "floor bench: %s\n", what.c_str());
  return 1;
}

double Pct(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

struct Options {
  std::string bootstrap, dsn, prefix;
  double rate = 1000, warmup_s = 5, seconds = 25, grace_s = 30;
  int partitions = 3;
};

// A consumer assigned to every partition of `topic` from the beginning.
absl::StatusOr<KafkaPtr> AssignedConsumer(const Options& o, const std::string& topic,
                                          const char* isolation) {
  auto conf = lottery::kafka::MakeConf({{"bootstrap.servers", o.bootstrap},
                                        {"group.id", absl::StrCat(topic, "-", getpid())},
                                        {"isolation.level", isolation},
                                        {"enable.auto.commit", "false"},
                                        {"fetch.wait.max.ms", "5"}});
  if (!conf.ok()) return conf.status();
  auto c = lottery::kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!c.ok()) return c.status();
  lottery::kafka::TopicPartitionListPtr parts(rd_kafka_topic_partition_list_new(o.partitions));
  for (int p = 0; p < o.partitions; ++p) {
    rd_kafka_topic_partition_list_add(parts.get(), topic.c_str(), p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  }
  if (auto e = rd_kafka_assign(c->get(), parts.get()))
    return lottery::kafka::StatusFromCode(e, "assign");
  return c;
}

// The no-logic service: consume -> one durable PostgreSQL transaction -> one Kafka transaction.
class Service {
 public:
  static absl::StatusOr<std::unique_ptr<Service>> Create(const Options& o) {
    auto s = std::unique_ptr<Service>(new Service(o));
    auto conn = lottery::pg::Connect(o.dsn);
    if (!conn.ok()) return conn.status();
    s->conn_ = std::move(*conn);
    for (const char* ddl :
         {"CREATE TABLE IF NOT EXISTS floor_event (seq int8 PRIMARY KEY, payload text NOT NULL, "
          "created_at timestamptz NOT NULL DEFAULT now())",
          "CREATE TABLE IF NOT EXISTS floor_offset (topic_partition int PRIMARY KEY, next int8)"}) {
      absl::Status st = lottery::pg::ExecCommand(s->conn_.get(), ddl);
      if (!st.ok()) return st;
    }
    auto in = AssignedConsumer(o, o.prefix + "floor.in", "read_committed");
    if (!in.ok()) return in.status();
    s->in_ = std::move(*in);
    auto pconf =
        lottery::kafka::MakeConf({{"bootstrap.servers", o.bootstrap},
                                  {"transactional.id", absl::StrCat(o.prefix, "floor-", getpid())},
                                  {"linger.ms", "0"}});
    if (!pconf.ok()) return pconf.status();
    auto p = lottery::kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*pconf));
    if (!p.ok()) return p.status();
    s->out_ = std::move(*p);
    if (rd_kafka_error_t* e = rd_kafka_init_transactions(s->out_.get(), 60000)) {
      absl::Status err = lottery::kafka::StatusFromError(e, "init_transactions");
      rd_kafka_error_destroy(e);
      return err;
    }
    return s;
  }

  // Serves until `stop`; returns the first error.
  absl::Status Serve(const std::atomic<bool>& stop) {
    const std::string out_topic = o_.prefix + "floor.out";
    while (!stop.load()) {
      std::vector<MessagePtr> batch;
      MessagePtr first(rd_kafka_consumer_poll(in_.get(), 20));
      if (!first) continue;
      batch.push_back(std::move(first));
      while (batch.size() < 1000) {
        MessagePtr m(rd_kafka_consumer_poll(in_.get(), 0));
        if (!m) break;
        batch.push_back(std::move(m));
      }
      std::vector<std::string> seqs;
      std::map<int, int64_t> next;
      for (const auto& m : batch) {
        if (m->err) continue;
        std::string v(static_cast<const char*>(m->payload), m->len);
        seqs.push_back(v);
        next[m->partition] = m->offset + 1;
      }
      if (seqs.empty()) continue;
      std::vector<std::string> parts, offsets;
      for (const auto& [p, n] : next) {
        parts.push_back(std::to_string(p));
        offsets.push_back(std::to_string(n));
      }
      absl::Status st = lottery::pg::ExecCommand(
          conn_.get(),
          "WITH e AS (INSERT INTO floor_event (seq, payload) "
          "SELECT s, 'stake ' || s FROM unnest($1::int8[]) s) "
          "INSERT INTO floor_offset SELECT * FROM unnest($2::int[], $3::int8[]) "
          "ON CONFLICT (topic_partition) DO UPDATE SET next = excluded.next",
          {lottery::pg::Param::Text(absl::StrCat("{", absl::StrJoin(seqs, ","), "}")),
           lottery::pg::Param::Text(absl::StrCat("{", absl::StrJoin(parts, ","), "}")),
           lottery::pg::Param::Text(absl::StrCat("{", absl::StrJoin(offsets, ","), "}"))});
      if (!st.ok()) return st;
      if (rd_kafka_error_t* e = rd_kafka_begin_transaction(out_.get())) {
        absl::Status err = lottery::kafka::StatusFromError(e, "begin_transaction");
        rd_kafka_error_destroy(e);
        return err;
      }
      for (const auto& s : seqs) {
        RETURN_IF_ERROR(
            lottery::kafka::Produce(out_.get(), {.topic = out_topic, .key = s, .value = s}));
      }
      if (rd_kafka_error_t* e = rd_kafka_commit_transaction(out_.get(), 30000)) {
        absl::Status err = lottery::kafka::StatusFromError(e, "commit_transaction");
        rd_kafka_error_destroy(e);
        return err;
      }
    }
    return absl::OkStatus();
  }

 private:
  explicit Service(const Options& o) : o_(o) {}
  Options o_;
  lottery::pg::ConnPtr conn_;
  KafkaPtr in_, out_;
};

int Run(const Options& o) {
  const int64_t total = static_cast<int64_t>(o.rate * (o.warmup_s + o.seconds));
  const int64_t warm = static_cast<int64_t>(o.rate * o.warmup_s);
  auto service = Service::Create(o);
  if (!service.ok()) return Fail(service.status().ToString());
  auto reader = AssignedConsumer(o, o.prefix + "floor.out", "read_committed");
  if (!reader.ok()) return Fail(reader.status().ToString());
  auto pconf = lottery::kafka::MakeConf(
      {{"bootstrap.servers", o.bootstrap}, {"enable.idempotence", "true"}, {"linger.ms", "0"}});
  if (!pconf.ok()) return Fail(pconf.status().ToString());
  auto producer = lottery::kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*pconf));
  if (!producer.ok()) return Fail(producer.status().ToString());

  std::vector<Mono::time_point> produced(total), received(total);
  std::vector<char> have(total, 0);
  std::atomic<int64_t> got{0}, duplicates{0};
  std::atomic<bool> stop_service{false}, stop_reader{false};
  absl::Status service_status;
  std::thread serve([&] { service_status = (*service)->Serve(stop_service); });
  std::thread read([&] {
    while (!stop_reader.load()) {
      MessagePtr m(rd_kafka_consumer_poll(reader->get(), 20));
      if (!m || m->err) continue;
      const Mono::time_point now = Mono::now();
      const int64_t seq = std::stoll(std::string(static_cast<const char*>(m->payload), m->len));
      if (seq < 0 || seq >= total) continue;
      if (have[seq]) {
        duplicates.fetch_add(1);
        continue;
      }
      have[seq] = 1;
      received[seq] = now;
      got.fetch_add(1);
    }
  });

  const std::string in_topic = o.prefix + "floor.in";
  const Mono::time_point start = Mono::now();
  for (int64_t i = 0; i < total; ++i) {
    std::this_thread::sleep_until(start +
                                  std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / o.rate)));
    const std::string v = std::to_string(i);
    const std::string key = std::to_string(i % 50);
    produced[i] = Mono::now();
    absl::Status st = lottery::kafka::Produce(
        producer->get(), {.topic = in_topic, .key = key, .value = v}, std::chrono::seconds(10));
    if (!st.ok()) fprintf(stderr, "floor bench: %s\n", st.ToString().c_str());
    rd_kafka_poll(producer->get(), 0);
  }
  const double measured_rate =
      (total - warm) /
      std::chrono::duration<double>(
          Mono::now() - (start + std::chrono::microseconds(static_cast<int64_t>(o.warmup_s * 1e6))))
          .count();
  rd_kafka_flush(producer->get(), 30000);
  for (auto until = Mono::now() + std::chrono::microseconds(static_cast<int64_t>(o.grace_s * 1e6));
       Mono::now() < until && got.load() < total;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop_service = true;
  serve.join();
  stop_reader = true;
  read.join();

  std::vector<double> lat;
  int64_t missing = 0;
  for (int64_t i = 0; i < total; ++i) {
    if (!have[i]) {
      ++missing;
      continue;
    }
    if (i >= warm)
      lat.push_back(std::chrono::duration<double, std::milli>(received[i] - produced[i]).count());
  }
  printf("rate_per_s=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f measured=%zu missing=%" PRId64
         " duplicates=%" PRId64 "\n",
         measured_rate, Pct(lat, 0.5), Pct(lat, 0.99), Pct(lat, 1.0), lat.size(), missing,
         duplicates.load());
  fflush(stdout);
  if (!service_status.ok()) return Fail(service_status.ToString());
  if (missing > 0 || duplicates.load() > 0)
    return Fail(absl::StrCat(missing, " records missing, ", duplicates.load(), " duplicated"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"the floor of the end-to-end benchmark (bench/sections/e2e.sh)"};
  Options o;
  app.fallthrough();
  app.add_option("--kafka-bootstrap", o.bootstrap)->envname("LOTTERY_KAFKA_BOOTSTRAP")->required();
  app.add_option("--pg-dsn", o.dsn, "database for the floor's tables")->envname("LOTTERY_PG_DSN");
  app.add_option("--prefix", o.prefix, "topic prefix")->required();
  app.add_option("--partitions", o.partitions)->capture_default_str();
  auto* run = app.add_subcommand("run");
  run->add_option("--rate", o.rate, "records per second")->capture_default_str();
  run->add_option("--warmup-s", o.warmup_s, "seconds not measured")->capture_default_str();
  run->add_option("--seconds", o.seconds, "measured seconds")->capture_default_str();
  auto* del = app.add_subcommand("delete-topics");
  app.require_subcommand(1);
  LOTTERY_CLI_PARSE(app, argc, argv);
  const std::vector<std::string> topics = {o.prefix + "floor.in", o.prefix + "floor.out"};
  if (del->parsed()) {
    auto st = lottery::kafka::DeleteTopics(o.bootstrap, topics);
    return st.ok() ? 0 : Fail(st.ToString());
  }
  auto st = lottery::kafka::CreateTopics(o.bootstrap,
                                         {{topics[0], o.partitions}, {topics[1], o.partitions}});
  if (!st.ok()) return Fail(st.ToString());
  return Run(o);
}
