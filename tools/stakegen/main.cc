// lottery-stakegen: publishes test stakes in the game service's exact format (see stakegen.h).
//   lottery-stakegen --count 1000 --rate 200 --games 10 --players 200
//   lottery-stakegen serve --listen 127.0.0.1:8081      (POST /stake, see serve.h)
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "lottery/common/cli.h"
#include "producer.h"
#include "serve.h"
#include "stakegen.h"

namespace sg = lottery::stakegen;

int main(int argc, char** argv) {
  CLI::App app{"Publishes stakes in the game service's format to Kafka (player.v1.staked)."};
  app.fallthrough();
  sg::PublishConfig pc;
  sg::Options o;
  std::string topic(sg::kDefaultTopic), prefix, format = "json", stake_min = "1", stake_max = "100",
                                                props_env;
  std::vector<std::string> props;
  int64_t count = 1000;
  double rate = 0;
  app.add_option("--kafka-bootstrap,--bootstrap", pc.bootstrap,
                 "Kafka bootstrap servers (--bootstrap: the older spelling)")
      ->envname("LOTTERY_KAFKA_BOOTSTRAP")
      ->required();
  app.add_option("--topic", topic, "stake topic")
      ->envname("LOTTERY_STAKE_TOPIC")
      ->capture_default_str();
  app.add_option("--topic-prefix", prefix,
                 "prefix for the topic (the original deployment used lottery_)")
      ->envname("LOTTERY_TOPIC_PREFIX");
  app.add_option("--count", count,
                 "messages to send in total (per POST in serve mode, its default)")
      ->envname("LOTTERY_STAKEGEN_COUNT")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  app.add_option("--rate", rate, "messages per second, 0 = as fast as possible")
      ->envname("LOTTERY_STAKEGEN_RATE")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--players", o.players, "size of the player pool")
      ->envname("LOTTERY_STAKEGEN_PLAYERS")
      ->capture_default_str();
  app.add_option("--games", o.games, "size of the game pool")
      ->envname("LOTTERY_STAKEGEN_GAMES")
      ->capture_default_str();
  app.add_option("--stake-min", stake_min, "smallest stake, major units, up to 2 decimals")
      ->envname("LOTTERY_STAKEGEN_STAKE_MIN")
      ->capture_default_str();
  app.add_option("--stake-max", stake_max, "largest stake (uniform in [min, max])")
      ->envname("LOTTERY_STAKEGEN_STAKE_MAX")
      ->capture_default_str();
  app.add_option("--duplicate-ratio", o.duplicate_ratio,
                 "share re-sending an earlier event (same uuid header)")
      ->envname("LOTTERY_STAKEGEN_DUPLICATE_RATIO")
      ->capture_default_str();
  app.add_option("--malformed-ratio", o.malformed_ratio,
                 "share of malformed messages (rotating kinds)")
      ->envname("LOTTERY_STAKEGEN_MALFORMED_RATIO")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the pools and of the message sequence")
      ->envname("LOTTERY_STAKEGEN_SEED")
      ->capture_default_str();
  app.add_option("--format", format,
                 "json (the game service's) or protobuf (lottery.v1.StakeCreated)")
      ->envname("LOTTERY_STAKEGEN_FORMAT")
      ->capture_default_str();
  app.add_option("--kafka-prop", props, "librdkafka property k=v (repeatable)");
  app.add_option("--kafka-props", props_env, "librdkafka properties k=v,k2=v2")
      ->envname("LOTTERY_KAFKA_PROPS");
  std::string listen = "127.0.0.1:8081";
  auto* serve = app.add_subcommand(
      "serve", "serve POST /stake (publishes a batch per request) and GET /healthz");
  serve->add_option("--listen", listen, "host:port, or :port for 127.0.0.1")
      ->envname("LOTTERY_STAKEGEN_LISTEN")
      ->capture_default_str();
  LOTTERY_CLI_PARSE(app, argc, argv);

  auto fail = [](const std::string& what, const absl::Status& st) {
    std::cerr << "lottery-stakegen: " << what << ": " << st << "\n";
    return 2;
  };
  auto fmt = sg::ParseFormat(format);
  if (!fmt.ok()) return fail("--format", fmt.status());
  o.format = *fmt;
  auto min = sg::ParseMajor(stake_min), max = sg::ParseMajor(stake_max);
  if (!min.ok()) return fail("--stake-min", min.status());
  if (!max.ok()) return fail("--stake-max", max.status());
  o.stake_min_minor = *min;
  o.stake_max_minor = *max;
  if (auto st = sg::Validate(o); !st.ok()) return fail("options", st);
  if (auto st = lottery::kafka::AddPropertyList(pc.props, props_env); !st.ok())
    return fail("LOTTERY_KAFKA_PROPS", st);
  for (const auto& p : props) {
    if (auto st = lottery::kafka::AddPropertyAssignment(pc.props, p); !st.ok())
      return fail("--kafka-prop", st);
  }
  pc.topic = prefix + topic;
  auto publisher = sg::Publisher::Create(pc);
  if (!publisher.ok()) return fail("kafka", publisher.status());

  // SIGINT/SIGTERM: stop publishing (or serving), wait for what is in flight, print the summary.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::atomic<bool> stop{false};
  std::unique_ptr<sg::StakeServer> server;
  std::thread([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    stop = true;
    if (server) server->Stop();
  }).detach();

  if (serve->parsed()) {
    auto started = sg::StakeServer::Start(listen, publisher->get(), o, count, rate);
    if (!started.ok()) return fail("serve", started.status());
    server = std::move(*started);
    std::cerr << "lottery-stakegen: serving POST http://" << server->address().ToString()
              << "/stake -> " << pc.topic << "\n";
    server->Wait();
    return 0;
  }
  sg::Generator gen(o);
  auto summary = (*publisher)->Publish(gen, count, rate, [&] { return stop.load(); });
  if (!summary.ok()) return fail("publish", summary.status());
  std::cout << summary->ToJson() << std::endl;
  return summary->failed == 0 ? 0 : 1;
}
