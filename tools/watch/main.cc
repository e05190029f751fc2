// lottery-watch: prints each award of lottery.v1.award as it arrives, with its proof re-checked.
//   lottery-watch                         awards produced from now on, until Ctrl-C
//   lottery-watch --from-beginning --max 10 --timeout-ms 30000 --strict
// Exit: 0; 1 with --strict when an award failed verification or did not decode; 2 bad usage or
// client error; 3 when --max was given and the timeout came first.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "lottery/common/cli.h"
#include "watch.h"

namespace lw = lottery::watch;

namespace {
// Writes to two stream buffers (the terminal and the --tee file).
class TeeBuf : public std::streambuf {
 public:
  TeeBuf(std::streambuf* a, std::streambuf* b) : a_(a), b_(b) {}

 protected:
  int overflow(int c) override {
    if (c == EOF) return !EOF;
    return a_->sputc(static_cast<char>(c)) == EOF || (b_ && b_->sputc(static_cast<char>(c)) == EOF)
               ? EOF
               : c;
  }
  int sync() override { return (a_->pubsync() | (b_ ? b_->pubsync() : 0)) == 0 ? 0 : -1; }

 private:
  std::streambuf* a_;
  std::streambuf* b_;
};
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Shows each AwardCreated on lottery.v1.award with its draw proof verified."};
  lw::Options o;
  std::string topic(lw::kDefaultTopic), prefix, props_env;
  std::vector<std::string> props;
  bool strict = false;
  std::string tee;
  app.add_option("--kafka-bootstrap,--bootstrap", o.bootstrap,
                 "Kafka bootstrap servers (--bootstrap: the older spelling)")
      ->envname("LOTTERY_KAFKA_BOOTSTRAP")
      ->required();
  app.add_option("--topic", topic, "award topic")
      ->envname("LOTTERY_AWARD_TOPIC")
      ->capture_default_str();
  app.add_option("--topic-prefix", prefix, "prefix for the topic")->envname("LOTTERY_TOPIC_PREFIX");
  app.add_flag("--from-beginning", o.from_beginning,
               "read the whole topic, not only awards from now on");
  app.add_option("--max", o.max, "stop after this many awards (0 = never)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--timeout-ms", o.timeout_ms, "stop after this long (0 = never)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--strict", strict, "exit 1 if any award fails verification or does not decode");
  app.add_option("--tee", tee, "also append every line (and the summary) to this file");
  app.add_option("--kafka-prop", props, "librdkafka property k=v (repeatable)");
  app.add_option("--kafka-props", props_env, "librdkafka properties k=v,k2=v2")
      ->envname("LOTTERY_KAFKA_PROPS");
  LOTTERY_CLI_PARSE(app, argc, argv);
  o.topic = prefix + topic;
  auto prop_status = lottery::kafka::AddPropertyList(o.props, props_env);
  for (const auto& p : props) {
    if (prop_status.ok()) prop_status = lottery::kafka::AddPropertyAssignment(o.props, p);
  }
  if (!prop_status.ok()) {
    std::cerr << "lottery-watch: " << prop_status << "\n";
    return 2;
  }

  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::atomic<bool> stop{false};
  std::thread([&] {
    int sig = 0;
    sigwait(&sigs, &sig);
    stop = true;
  }).detach();

  std::cerr << "lottery-watch: watching " << o.topic
            << (o.from_beginning ? " from the beginning" : " from now on") << " (read_committed)\n";
  std::ofstream tee_file;
  if (!tee.empty()) {
    tee_file.open(tee, std::ios::app);
    if (!tee_file) {
      std::cerr << "lottery-watch: cannot open " << tee << "\n";
      return 2;
    }
  }
  TeeBuf buf(std::cout.rdbuf(), tee.empty() ? nullptr : tee_file.rdbuf());
  std::ostream out(&buf);
  auto stats = lw::Watch(o, out, [&] { return stop.load(); });
  if (!stats.ok()) {
    std::cerr << "lottery-watch: " << stats.status() << "\n";
    return 2;
  }
  out << "summary awards=" << stats->awards << " verified=" << stats->verified
      << " failed=" << stats->failed << " undecodable=" << stats->undecodable
      << " skipped=" << stats->skipped << std::endl;
  if (strict && (stats->failed > 0 || stats->undecodable > 0)) return 1;
  if (o.max > 0 && !stats->reached_max && !stop) return 3;
  return 0;
}
