// Helper of bench/sections/relay.sh (`make bench`): fills an outbox backlog, counts what a
// read_committed consumer sees, measures outbox-commit -> readable-in-Kafka latency at a steady
// rate while lottery-cdc-relay runs, and deletes the bench topics.
//
//   lottery-relay-bench fill    --pg-dsn D --topic T --events 200000 --per-txn 100 --payload-bytes
//   300 lottery-relay-bench count   --topic T                      -> prints the committed record
//   count lottery-relay-bench latency --pg-dsn D --topic T --rate 1000 --seconds 10
//                               -> prints "rate_per_s=.. p50_ms=.. p99_ms=.. count=.."
//   lottery-relay-bench delete-topics --topic T [--topic T2]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "lottery/common/cli.h"
#include "lottery/common/kafka.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"

namespace {

using Clock = std::chrono::system_clock;
using lottery::kafka::KafkaPtr;
using lottery::kafka::MessagePtr;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch())
      .count();
}

int Fail(const absl::Status& st) {
  fprintf(stderr, "relay bench: %s\n", st.ToString().c_str());
  return 1;
}

int Fill(const std::string& dsn, const std::string& topic, int events, int per_txn, int bytes) {
  auto conn = lottery::pg::Connect(dsn);
  if (!conn.ok()) return Fail(conn.status());
  for (int done = 0; done < events; done += per_txn) {
    int n = std::min(per_txn, events - done);
    auto st = lottery::pg::ExecCommand(
        conn->get(),
        "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload) "
        "SELECT gen_random_uuid(), 'award', 'agg-' || (g % 1000), 'lotteryAwardCreated', $1, "
        "'application/octet-stream', convert_to(rpad(g::text, $3::int, 'x'), 'UTF8') "
        "FROM generate_series($2::int, $2::int + $4::int - 1) g",
        {lottery::pg::Param::Text(topic), lottery::pg::Param::Text(std::to_string(done)),
         lottery::pg::Param::Text(std::to_string(bytes)),
         lottery::pg::Param::Text(std::to_string(n))});
    if (!st.ok()) return Fail(st);
  }
  return 0;
}

absl::StatusOr<KafkaPtr> Consumer(const std::string& bootstrap, const std::string& topic) {
  auto conf = lottery::kafka::MakeConf({{"bootstrap.servers", bootstrap},
                                        {"group.id", absl::StrCat("relay-bench-", getpid())},
                                        {"isolation.level", "read_committed"},
                                        {"enable.auto.commit", "false"},
                                        {"enable.partition.eof", "true"},
                                        {"fetch.wait.max.ms", "5"},
                                        {"auto.offset.reset", "earliest"}});
  if (!conf.ok()) return conf.status();
  auto c = lottery::kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!c.ok()) return c.status();
  rd_kafka_t* rk = c->get();
  RETURN_IF_ERROR(lottery::kafka::AssignAllPartitions(rk, topic, RD_KAFKA_OFFSET_BEGINNING,
                                                      std::chrono::seconds(10)));
  return c;
}

int Count(const std::string& bootstrap, const std::string& topic) {
  int64_t count = 0;
  absl::Status st = lottery::kafka::ReadToEnd(
      {topic}, {.client = {{"bootstrap.servers", bootstrap}}, .timeout = std::chrono::seconds(120)},
      [&](const rd_kafka_message_t&) {
        ++count;
        return absl::OkStatus();
      });
  if (!st.ok()) return Fail(st);
  printf("%lld\n", static_cast<long long>(count));
  return 0;
}

int Latency(const std::string& dsn, const std::string& bootstrap, const std::string& topic,
            int rate, int seconds) {
  // The topic must exist before the consumer assigns it: one warm-up row, then wait for it.
  auto conn = lottery::pg::Connect(dsn);
  if (!conn.ok()) return Fail(conn.status());
  const char* insert =
      "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload) "
      "VALUES (gen_random_uuid(), 'award', $2, 'lotteryAwardCreated', $1, 'text/plain', "
      "convert_to($3, 'UTF8'))";
  auto warm =
      lottery::pg::ExecCommand(conn->get(), insert,
                               {lottery::pg::Param::Text(topic), lottery::pg::Param::Text("warmup"),
                                lottery::pg::Param::Text("0")});
  if (!warm.ok()) return Fail(warm);
  absl::StatusOr<KafkaPtr> c = absl::UnavailableError("");
  for (int i = 0; i < 100 && !c.ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    c = Consumer(bootstrap, topic);
  }
  if (!c.ok()) return Fail(c.status());
  // Start the clock only once the warm-up row was read: the consumer's own start-up (offsets,
  // first fetch) and the relay's first commit to this topic are not what is measured.
  bool warmed = false;
  for (auto until = Clock::now() + std::chrono::seconds(30); !warmed && Clock::now() < until;) {
    MessagePtr m(rd_kafka_consumer_poll(c->get(), 100));
    warmed = m && m->err == 0 && m->key_len == 6;
  }
  if (!warmed) return Fail(absl::DeadlineExceededError("the warm-up row never arrived"));

  std::atomic<bool> done{false};
  std::vector<double> latencies_ms;
  std::atomic<int> received{0};
  std::thread reader([&] {
    while (!done.load()) {
      MessagePtr m(rd_kafka_consumer_poll(c->get(), 50));
      if (!m || m->err != 0 || m->key_len == 6) continue;  // "warmup"
      int64_t now = NowMicros();
      std::string v(static_cast<const char*>(m->payload), m->len);
      latencies_ms.push_back((now - std::stoll(v)) / 1000.0);
      received.fetch_add(1);
    }
  });
  // Several inserting connections, so one connection's commit latency does not cap the rate.
  constexpr int kWriters = 4;
  int total = rate * seconds;
  auto start = Clock::now();
  std::atomic<bool> failed{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto wconn = lottery::pg::Connect(dsn);
      if (!wconn.ok()) {
        failed = true;
        return;
      }
      for (int i = w; i < total; i += kWriters) {
        auto due = start + std::chrono::microseconds(static_cast<int64_t>(i) * 1000000 / rate);
        std::this_thread::sleep_until(due);
        // The clock starts before the INSERT's commit: commit + relay + Kafka + consumer.
        auto st = lottery::pg::ExecCommand(
            wconn->get(), insert,
            {lottery::pg::Param::Text(topic), lottery::pg::Param::Text(absl::StrCat("k", i % 997)),
             lottery::pg::Param::Text(std::to_string(NowMicros()))});
        if (!st.ok()) {
          fprintf(stderr, "relay bench: %s\n", st.ToString().c_str());
          failed = true;
          return;
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  if (failed.load()) {
    done = true;
    reader.join();
    return 1;
  }
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  auto wait_until = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < wait_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (received.load() >= total) break;
  }
  done = true;
  reader.join();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto pct = [&](double q) {
    if (latencies_ms.empty()) return -1.0;
    return latencies_ms[std::min(latencies_ms.size() - 1,
                                 static_cast<size_t>(q * latencies_ms.size()))];
  };
  printf("rate_per_s=%.0f p50_ms=%.1f p99_ms=%.1f count=%zu expected=%d\n", total / elapsed,
         pct(0.50), pct(0.99), latencies_ms.size(), total);
  return static_cast<int>(latencies_ms.size()) == total ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"helper of the relay benchmark (bench/sections/relay.sh)"};
  std::string dsn, bootstrap, topic;
  std::vector<std::string> topics;
  int events = 200000, per_txn = 100, bytes = 300, rate = 1000, seconds = 10;
  app.fallthrough();  // before add_subcommand: the subcommands inherit it
  app.add_option("--pg-dsn", dsn)->envname("LOTTERY_PG_DSN");
  app.add_option("--kafka-bootstrap", bootstrap)->envname("LOTTERY_KAFKA_BOOTSTRAP");
  auto* fill = app.add_subcommand("fill");
  fill->add_option("--topic", topic)->required();
  fill->add_option("--events", events);
  fill->add_option("--per-txn", per_txn);
  fill->add_option("--payload-bytes", bytes);
  auto* count = app.add_subcommand("count");
  count->add_option("--topic", topic)->required();
  auto* latency = app.add_subcommand("latency");
  latency->add_option("--topic", topic)->required();
  latency->add_option("--rate", rate);
  latency->add_option("--seconds", seconds);
  auto* del = app.add_subcommand("delete-topics");
  del->add_option("--topic", topics)->required();
  app.require_subcommand(1);
  LOTTERY_CLI_PARSE(app, argc, argv);
  if (fill->parsed()) return Fill(dsn, topic, events, per_txn, bytes);
  if (count->parsed()) return Count(bootstrap, topic);
  if (latency->parsed()) return Latency(dsn, bootstrap, topic, rate, seconds);
  auto st = lottery::kafka::DeleteTopics(bootstrap, topics);
  return st.ok() ? 0 : Fail(st);
}
