// lottery-writer: consumes stakes from Kafka and applies them to PostgreSQL exactly once
// (lotteries, draws, awards, outbox rows). See docs/writer.md.
#include <atomic>
#include <csignal>
#include <iostream>

#include "CLI/CLI.hpp"
#include "lottery/common/cli.h"
#include "lottery/common/metrics.h"
#include "lottery/writer/config.h"
#include "lottery/writer/writer.h"
#include "spdlog/cfg/helpers.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace {
std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }
}  // namespace

int main(int argc, char** argv) {
  lottery::writer::WriterConfig config;
  CLI::App app{
      "lottery-writer: Kafka stakes -> PostgreSQL lotteries, draws and outbox, exactly once"};
  lottery::writer::AddFlags(app, config);
  LOTTERY_CLI_PARSE(app, argc, argv);

  auto logger = spdlog::stderr_color_mt("writer");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ writer %v");
  // Validated at parse time (cli::LogLevel()).
  spdlog::set_level(lottery::cli::ParseLogLevel(config.log_level).value_or(spdlog::level::info));

  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);

  lottery::metrics::Registry registry;
  auto writer = lottery::writer::Writer::Create(config, registry);
  if (!writer.ok()) {
    spdlog::error("configuration: {}", writer.status().ToString());
    return 2;
  }
  std::unique_ptr<lottery::metrics::HttpServer> http;
  if (!config.metrics_addr.empty() && config.metrics_addr != "off") {
    auto* w = writer->get();
    auto server = lottery::metrics::HttpServer::Start(config.metrics_addr, &registry,
                                                      [w] { return w->Ready(); });
    if (!server.ok()) {
      spdlog::error("metrics server on {}: {}", config.metrics_addr, server.status().ToString());
      return 2;
    }
    http = std::move(*server);
    spdlog::info("metrics on http://{}/metrics", config.metrics_addr);
  }
  absl::Status st = (*writer)->Run(g_stop);
  if (!st.ok()) {
    spdlog::error("writer stopped: {}", st.ToString());
    return 1;
  }
  spdlog::info("exiting");
  return 0;
}
