// Driver of bench/sections/e2e.sh (`make bench`): the end-to-end latency from the stake that fills
// a lottery to its award being readable by a read_committed consumer of lottery.v1.award, with
// lottery-writer and lottery-cdc-relay running as they would in production.
//
//   lottery-e2e-bench create-topics --prefix P            the stake, award, lottery and DLQ topics
//   lottery-e2e-bench run --prefix P --rate 1000 --warmup-s 5 --seconds 25 --games 50
//       -> prints "rate_per_s=.. p50_ms=.. p99_ms=.. measured=.. expected=.. received=.. ..."
//          and a breakdown line; exit 1 if any expected award is missing after --grace-s
//   lottery-e2e-bench delete-topics --prefix P [--topic extra]
//
// The workload: stake i goes to game i % G; game g's r-th stake (r = i / G) is player k = r % N of
// that game's lottery number L = r / N, with a player id that encodes (g, L, k). Each player
// stakes once, so the N-th stake of a lottery (k = N-1) is the one that fills it, and the award's
// last participant (canonical order = first entry first) names it. Stakes are keyed by game id so
// a game's stakes stay in order in one partition.
//
// Clocks: the latency is steady_clock (monotonic) from the moment kafka::Produce() is called
// for the filling stake (before its delivery report) to the moment the consumer's poll returns the
// award, both in this process. The breakdown uses wall clocks of the same machine: outbox
// created_at (the writer's transaction start, PostgreSQL now()) and the award record's Kafka
// timestamp (CreateTime = when the relay called produce, millisecond resolution).
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
#include "absl/strings/str_format.h"
#include "lottery/common/cli.h"
#include "lottery/common/kafka.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"
#include "lottery/v1/award.pb.h"

namespace {

using Mono = std::chrono::steady_clock;
using lottery::kafka::KafkaPtr;
using lottery::kafka::MessagePtr;

int64_t WallMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Fail(const std::string& what) {
  fprintf(stderr, "e2e bench: %s\n", what.c_str());
  return 1;
}

struct Topics {
  std::string stake, award, lottery, dlq;
  explicit Topics(const std::string& prefix)
      : stake(prefix + "player.v1.staked"),
        award(prefix + "lottery.v1.award"),
        lottery(prefix + "lottery.v1.lottery"),
        dlq(prefix + "player.v1.staked.dlq") {}
};

std::string GameId(int g) { return absl::StrFormat("e2e00000-0000-4000-8000-%012x", g); }
std::string PlayerId(int g, int lot, int k) {
  return absl::StrFormat("%08x-%04x-4000-8000-%012x", g, k, lot);
}
std::string EventId(int g, int lot, int k) {
  return absl::StrFormat("%08x-%04x-4000-a000-%012x", g, k, lot);
}
// Inverse of PlayerId; false if the id is not one of ours.
bool ParsePlayer(const std::string& id, int* g, int* lot, int* k) {
  unsigned gg = 0, kk = 0;
  unsigned long long ll = 0;
  if (sscanf(id.c_str(), "%8x-%4x-4000-8000-%12llx", &gg, &kk, &ll) != 3) return false;
  *g = static_cast<int>(gg);
  *k = static_cast<int>(kk);
  *lot = static_cast<int>(ll);
  return true;
}

double Pct(std::vector<double> v, double q) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

struct Filling {  // the stake that fills lottery (g, L)
  Mono::time_point produced;
  int64_t produced_wall_us = 0;
  bool measured = false;  // produced after the warm-up
};
struct Award {
  Mono::time_point received;
  int64_t kafka_ts_ms = 0;  // CreateTime: the relay's produce() call
  std::string event_id;     // the outbox row id (header "id")
};

absl::StatusOr<KafkaPtr> AwardConsumer(const std::string& bootstrap, const std::string& topic,
                                       int fetch_wait_ms) {
  auto conf = lottery::kafka::MakeConf({{"bootstrap.servers", bootstrap},
                                        {"group.id", absl::StrCat("e2e-bench-", getpid())},
                                        {"isolation.level", "read_committed"},
                                        {"enable.auto.commit", "false"},
                                        {"fetch.wait.max.ms", std::to_string(fetch_wait_ms)}});
  if (!conf.ok()) return conf.status();
  auto c = lottery::kafka::MakeClient(RD_KAFKA_CONSUMER, std::move(*conf));
  if (!c.ok()) return c.status();
  RETURN_IF_ERROR(lottery::kafka::AssignAllPartitions(c->get(), topic, RD_KAFKA_OFFSET_BEGINNING,
                                                      std::chrono::seconds(10)));
  return c;
}

struct RunOptions {
  std::string bootstrap, dsn, prefix;
  double rate = 1000;
  double warmup_s = 5, seconds = 25, grace_s = 30;
  int games = 50, players = 10, fetch_wait_ms = 5;
  int lottery_offset = 0;  // lottery numbers start here: reruns against one writer use new ids
};

int Run(const RunOptions& o) {
  const Topics topics(o.prefix);
  const int G = o.games, N = o.players;
  const int64_t total =
      static_cast<int64_t>(o.rate * (o.warmup_s + o.seconds)) / (int64_t{G} * N) * G * N;
  if (total <= 0) return Fail("rate * time is less than one lottery per game");
  const int lots_per_game = static_cast<int>(total / G / N);

  auto consumer = AwardConsumer(o.bootstrap, topics.award, o.fetch_wait_ms);
  if (!consumer.ok()) return Fail(consumer.status().ToString());

  // The stake producer: the game service's side. linger.ms=0: a stake is sent at once.
  std::atomic<int64_t> failed{0};
  auto pconf = lottery::kafka::MakeConf({{"bootstrap.servers", o.bootstrap},
                                         {"enable.idempotence", "true"},
                                         {"linger.ms", "0"},
                                         {"client.id", "lottery-e2e-bench"}});
  if (!pconf.ok()) return Fail(pconf.status().ToString());
  rd_kafka_conf_set_opaque(pconf->get(), &failed);
  rd_kafka_conf_set_dr_msg_cb(
      pconf->get(), [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
        if (m->err == 0) return;
        static_cast<std::atomic<int64_t>*>(opaque)->fetch_add(1);
        fprintf(stderr, "e2e bench: stake delivery: %s\n", rd_kafka_err2str(m->err));
      });
  auto producer = lottery::kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*pconf));
  if (!producer.ok()) return Fail(producer.status().ToString());
  rd_kafka_t* rk = producer->get();

  std::vector<Filling> filling(static_cast<size_t>(G) * lots_per_game);
  std::vector<Award> awards(filling.size());
  std::vector<char> have(filling.size(), 0);
  std::mutex mu;
  std::atomic<int64_t> received{0}, duplicates{0}, foreign{0}, bad_order{0};
  std::atomic<bool> done{false};

  std::thread reader([&] {
    while (!done.load()) {
      MessagePtr m(rd_kafka_consumer_poll(consumer->get(), 20));
      if (!m || m->err) continue;
      const Mono::time_point now = Mono::now();
      lottery::v1::AwardCreated a;
      int g = -1, lot = -1, k = -1;
      if (!a.ParseFromArray(m->payload, static_cast<int>(m->len)) ||
          a.proof().participants_size() == 0 ||
          !ParsePlayer(a.proof().participants(a.proof().participants_size() - 1).player_id(), &g,
                       &lot, &k) ||
          (lot -= o.lottery_offset) < 0 || g >= G || lot >= lots_per_game ||
          a.game_id() != GameId(g)) {
        foreign.fetch_add(1);
        continue;
      }
      if (k != N - 1) bad_order.fetch_add(1);  // the filling stake was not the last entry
      const size_t idx = static_cast<size_t>(g) * lots_per_game + lot;
      std::lock_guard<std::mutex> lock(mu);
      if (have[idx]) {
        duplicates.fetch_add(1);
        continue;
      }
      have[idx] = 1;
      Award& w = awards[idx];
      w.received = now;
      rd_kafka_timestamp_type_t tstype;
      w.kafka_ts_ms = rd_kafka_message_timestamp(m.get(), &tstype);
      rd_kafka_headers_t* hdrs = nullptr;
      const void* val = nullptr;
      size_t len = 0;
      if (rd_kafka_message_headers(m.get(), &hdrs) == 0 &&
          rd_kafka_header_get_last(hdrs, "id", &val, &len) == 0 && val != nullptr) {
        w.event_id.assign(static_cast<const char*>(val), len);
      }
      received.fetch_add(1);
    }
  });

  // Paced production: stake i is due at start + i / rate (no catching up in bursts beyond that).
  const Mono::time_point start = Mono::now();
  const Mono::time_point measure_from =
      start + std::chrono::microseconds(static_cast<int64_t>(o.warmup_s * 1e6));
  int64_t produce_errors = 0;
  double max_behind_ms = 0;
  for (int64_t i = 0; i < total; ++i) {
    const auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(i * 1e9 / o.rate));
    std::this_thread::sleep_until(due);
    const int g = static_cast<int>(i % G);
    const int64_t r = i / G;
    const int lot = static_cast<int>(r / N), k = static_cast<int>(r % N);
    const std::string game = GameId(g), player = PlayerId(g, o.lottery_offset + lot, k),
                      id = EventId(g, o.lottery_offset + lot, k);
    const std::string value =
        absl::StrCat(R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":")",
                     player, R"(","gameId":")", game, R"(","stake":")", 1 + k, R"(.50"}})");
    const Mono::time_point t = Mono::now();
    const int64_t wall = WallMicros();
    max_behind_ms =
        std::max(max_behind_ms, std::chrono::duration<double, std::milli>(t - due).count());
    const lottery::kafka::Header uuid[] = {{"uuid", id}};
    absl::Status produced = lottery::kafka::Produce(
        rk, {.topic = topics.stake, .key = game, .value = value, .headers = uuid},
        std::chrono::seconds(10));
    if (!produced.ok()) {
      ++produce_errors;
      fprintf(stderr, "e2e bench: %s\n", produced.ToString().c_str());
    }
    if (k == N - 1) {
      Filling& f = filling[static_cast<size_t>(g) * lots_per_game + lot];
      f.produced = t;
      f.produced_wall_us = wall;
      f.measured = t >= measure_from;
    }
    rd_kafka_poll(rk, 0);
  }
  const double elapsed = std::chrono::duration<double>(Mono::now() - start).count();
  const double measured_rate = (total - static_cast<int64_t>(o.rate * o.warmup_s)) /
                               std::chrono::duration<double>(Mono::now() - measure_from).count();
  rd_kafka_flush(rk, 30000);
  const int64_t unflushed = rd_kafka_outq_len(rk);

  const int64_t expected = static_cast<int64_t>(filling.size());
  for (auto until = Mono::now() + std::chrono::microseconds(static_cast<int64_t>(o.grace_s * 1e6));
       Mono::now() < until && received.load() < expected;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // late duplicates, if any
  done = true;
  reader.join();

  // Outbox rows of the awards: created_at = the writer transaction's start.
  std::map<std::string, int64_t> created_us;
  if (!o.dsn.empty()) {
    auto conn = lottery::pg::Connect(o.dsn);
    if (conn.ok()) {
      auto res = lottery::pg::Exec(conn->get(),
                                   "SELECT id::text, (extract(epoch from created_at) * 1e6)::int8 "
                                   "FROM outbox WHERE type = 'lotteryAwardCreated'",
                                   {});
      if (res.ok()) {
        for (int row = 0; row < PQntuples(res->get()); ++row) {
          created_us[PQgetvalue(res->get(), row, 0)] = std::stoll(PQgetvalue(res->get(), row, 1));
        }
      }
    }
  }

  std::vector<double> lat, to_writer, writer_to_relay, relay_to_consumer;
  int64_t missing = 0, missing_measured = 0;
  for (size_t idx = 0; idx < filling.size(); ++idx) {
    if (!have[idx]) {
      ++missing;
      if (filling[idx].measured) ++missing_measured;
      continue;
    }
    if (!filling[idx].measured) continue;
    const Filling& f = filling[idx];
    const Award& w = awards[idx];
    lat.push_back(std::chrono::duration<double, std::milli>(w.received - f.produced).count());
    // Breakdown on wall clocks: received (wall) = produced_wall + monotonic latency.
    const double recv_wall_ms = f.produced_wall_us / 1000.0 + lat.back();
    auto c = created_us.find(w.event_id);
    if (c != created_us.end()) {
      to_writer.push_back((c->second - f.produced_wall_us) / 1000.0);
      writer_to_relay.push_back(w.kafka_ts_ms - c->second / 1000.0);
    }
    relay_to_consumer.push_back(recv_wall_ms - w.kafka_ts_ms);
  }
  printf("rate_per_s=%.0f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f measured=%zu expected=%" PRId64
         " received=%" PRId64 " missing=%" PRId64 " duplicates=%" PRId64 " foreign=%" PRId64
         " bad_order=%" PRId64 " stakes=%" PRId64
         " lotteries_per_game=%d elapsed_s=%.1f"
         " max_behind_ms=%.1f\n",
         measured_rate, Pct(lat, 0.5), Pct(lat, 0.99), Pct(lat, 1.0), lat.size(), expected,
         received.load(), missing, duplicates.load(), foreign.load(), bad_order.load(), total,
         lots_per_game, elapsed, max_behind_ms);
  printf(
      "breakdown p50/p99 ms: stake->writer_txn_start %.1f/%.1f, writer_txn_start->relay_produce "
      "%.1f/%.1f, relay_produce->consumer %.1f/%.1f (n=%zu)\n",
      Pct(to_writer, 0.5), Pct(to_writer, 0.99), Pct(writer_to_relay, 0.5),
      Pct(writer_to_relay, 0.99), Pct(relay_to_consumer, 0.5), Pct(relay_to_consumer, 0.99),
      to_writer.size());
  fflush(stdout);
  if (missing > 0)
    return Fail(absl::StrCat(missing, " of ", expected, " awards missing after ", o.grace_s,
                             " s grace (", missing_measured, " of them measured)"));
  if (produce_errors > 0 || unflushed > 0 || failed.load() > 0)
    return Fail(absl::StrCat(produce_errors, " produce errors, ", failed.load(),
                             " failed deliveries, ", unflushed, " stakes undelivered"));
  if (duplicates.load() > 0 || bad_order.load() > 0)
    return Fail(absl::StrCat(duplicates.load(), " duplicate awards, ", bad_order.load(),
                             " awards whose last participant was not the filling stake"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"driver of the end-to-end latency benchmark (bench/sections/e2e.sh)"};
  RunOptions o;
  std::vector<std::string> extra;
  int partitions = 3;
  app.fallthrough();
  app.add_option("--kafka-bootstrap", o.bootstrap)->envname("LOTTERY_KAFKA_BOOTSTRAP")->required();
  app.add_option("--pg-dsn", o.dsn, "for the breakdown (outbox created_at)")
      ->envname("LOTTERY_PG_DSN");
  app.add_option("--prefix", o.prefix, "topic prefix (the writer's --topic-prefix)")->required();
  auto* create = app.add_subcommand("create-topics");
  create->add_option("--partitions", partitions)->capture_default_str();
  auto* run = app.add_subcommand("run");
  run->add_option("--rate", o.rate, "stakes per second")->capture_default_str();
  run->add_option("--warmup-s", o.warmup_s, "seconds not measured")->capture_default_str();
  run->add_option("--seconds", o.seconds, "measured seconds")->capture_default_str();
  run->add_option("--grace-s", o.grace_s, "max wait for the last awards")->capture_default_str();
  run->add_option("--games", o.games)->capture_default_str();
  run->add_option("--players-per-lottery", o.players)->capture_default_str();
  run->add_option("--fetch-wait-ms", o.fetch_wait_ms, "award consumer's fetch.wait.max.ms")
      ->capture_default_str();
  run->add_option("--lottery-offset", o.lottery_offset,
                  "first lottery number (a rerun against the same writer needs new ids)")
      ->capture_default_str();
  auto* del = app.add_subcommand("delete-topics");
  del->add_option("--topic", extra, "more topics to delete");
  app.require_subcommand(1);
  LOTTERY_CLI_PARSE(app, argc, argv);
  const Topics t(o.prefix);
  if (create->parsed()) {
    auto st = lottery::kafka::CreateTopics(
        o.bootstrap,
        {{t.stake, partitions}, {t.award, partitions}, {t.lottery, partitions}, {t.dlq, 1}});
    return st.ok() ? 0 : Fail(st.ToString());
  }
  if (del->parsed()) {
    std::vector<std::string> all = {t.stake, t.award, t.lottery, t.dlq};
    all.insert(all.end(), extra.begin(), extra.end());
    auto st = lottery::kafka::DeleteTopics(o.bootstrap, all);
    return st.ok() ? 0 : Fail(st.ToString());
  }
  return Run(o);
}
