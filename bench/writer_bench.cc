// lottery-writer-bench: the two halves of the writer benchmark that are not the writer itself.
//   produce --topic T --count N [--games G --players P]   pre-fill a 3-partition topic with
//       stakes in the game service's exact JSON format (header uuid, no key)
//   copy --pg-dsn D --count N   one COPY of N rows into lottery_entry (this machine's limit);
//       prints "copy_rows_per_s <x>"
//   delete-topic --topic T
#include <chrono>
#include <iostream>
#include <random>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "lottery/common/cli.h"
#include "lottery/common/kafka.h"
#include "lottery/common/pg.h"
#include "lottery/domain/uuid.h"

namespace {

using lottery::domain::FormatUuid;
using lottery::domain::NewRandomUuid;

int Produce(const std::string& bootstrap, const std::string& topic, int64_t count, int games,
            int players) {
  if (auto st = lottery::kafka::CreateTopics(bootstrap, {{topic, 3}}); !st.ok()) {
    std::cerr << st << "\n";
    return 1;
  }
  auto conf = lottery::kafka::MakeConf({{"bootstrap.servers", bootstrap},
                                        {"linger.ms", "50"},
                                        {"batch.num.messages", "10000"},
                                        {"enable.idempotence", "true"},
                                        {"queue.buffering.max.messages", "1000000"}});
  if (!conf.ok()) return std::cerr << conf.status() << "\n", 1;
  auto producer = lottery::kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  if (!producer.ok()) return std::cerr << producer.status() << "\n", 1;
  std::vector<std::string> g, p;
  for (int i = 0; i < games; ++i) g.push_back(FormatUuid(NewRandomUuid()));
  for (int i = 0; i < players; ++i) p.push_back(FormatUuid(NewRandomUuid()));
  std::mt19937_64 rng(1);
  for (int64_t i = 0; i < count; ++i) {
    const std::string& player = p[rng() % players];
    const std::string& game = g[rng() % games];
    std::string value =
        absl::StrCat(R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":")",
                     player, R"(","gameId":")", game, R"(","stake":")", 1 + rng() % 1000, R"("}})");
    std::string id = FormatUuid(NewRandomUuid());
    const lottery::kafka::Header uuid[] = {{"uuid", id}};
    absl::Status st = lottery::kafka::Produce(
        producer->get(), {.topic = topic, .key = game, .value = value, .headers = uuid},
        std::chrono::minutes(2));
    if (!st.ok()) return std::cerr << st << "\n", 1;
    rd_kafka_poll(producer->get(), 0);
  }
  if (rd_kafka_flush(producer->get(), 120000) != RD_KAFKA_RESP_ERR_NO_ERROR)
    return std::cerr << "flush\n", 1;
  return 0;
}

int Copy(const std::string& dsn, int64_t count) {
  auto conn = lottery::pg::Connect(dsn);
  if (!conn.ok()) return std::cerr << conn.status() << "\n", 1;
  std::string lottery = FormatUuid(NewRandomUuid()), game = FormatUuid(NewRandomUuid());
  auto st = lottery::pg::ExecCommand(
      conn->get(), absl::StrCat("INSERT INTO lottery (id, game_id, status, players_needed, "
                                "draw_mode, prize_policy, prize_bps, "
                                "server_seed, commitment) VALUES ('",
                                lottery, "', '", game,
                                "', 'finished', 10, 'uniform', 'winner_stake', 3300, '\\x",
                                std::string(64, '0'), "', '\\x", std::string(64, '0'), "')"));
  if (!st.ok()) return std::cerr << st << "\n", 1;
  // Rows are prepared before the clock starts: only the server's work is measured.
  std::string data;
  for (int64_t i = 0; i < count; ++i) {
    absl::StrAppend(&data, FormatUuid(NewRandomUuid()), "\t", lottery, "\t",
                    FormatUuid(NewRandomUuid()), "\t", game, "\t", 100 + i % 1000, "\tfinished\t",
                    i + 1, "\tbench\t", i % 3, "\t", i, "\n");
  }
  auto t0 = std::chrono::steady_clock::now();
  lottery::pg::ResultPtr r(
      PQexec(conn->get(),
             "COPY lottery_entry (id, lottery_id, player_id, game_id, stake, status, entry_no, "
             "source_topic, source_partition, source_offset) FROM STDIN"));
  if (PQresultStatus(r.get()) != PGRES_COPY_IN) return std::cerr << PQerrorMessage(conn->get()), 1;
  for (size_t off = 0; off < data.size(); off += 1 << 20) {
    size_t n = std::min<size_t>(1 << 20, data.size() - off);
    if (PQputCopyData(conn->get(), data.data() + off, static_cast<int>(n)) != 1)
      return std::cerr << "copy\n", 1;
  }
  if (PQputCopyEnd(conn->get(), nullptr) != 1) return std::cerr << "copy end\n", 1;
  lottery::pg::ResultPtr done(PQgetResult(conn->get()));
  if (PQresultStatus(done.get()) != PGRES_COMMAND_OK)
    return std::cerr << PQerrorMessage(conn->get()), 1;
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "copy_rows_per_s " << static_cast<int64_t>(count / s) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lottery-writer-bench"};
  app.require_subcommand(1);
  std::string topic, dsn, bootstrap;
  int64_t count = 0;
  int games = 100, players = 2000;
  auto* produce = app.add_subcommand("produce", "pre-fill a topic with stakes");
  produce->add_option("--topic", topic)->required();
  produce->add_option("--count", count)->required();
  produce->add_option("--games", games);
  produce->add_option("--players", players);
  produce->add_option("--kafka-bootstrap", bootstrap)->envname("LOTTERY_KAFKA_BOOTSTRAP");
  auto* copy = app.add_subcommand("copy", "COPY rows into lottery_entry");
  copy->add_option("--pg-dsn", dsn)->envname("LOTTERY_PG_DSN")->required();
  copy->add_option("--count", count)->required();
  auto* del = app.add_subcommand("delete-topic", "delete a topic");
  del->add_option("--topic", topic)->required();
  del->add_option("--kafka-bootstrap", bootstrap)->envname("LOTTERY_KAFKA_BOOTSTRAP");
  LOTTERY_CLI_PARSE(app, argc, argv);
  if (*produce) return Produce(bootstrap, topic, count, games, players);
  if (*copy) return Copy(dsn, count);
  auto st = lottery::kafka::DeleteTopics(bootstrap, {topic});
  if (!st.ok()) return std::cerr << st << "\n", 1;
  return 0;
}
