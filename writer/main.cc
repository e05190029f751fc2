// lottery-writer: consumes stakes from Kafka and applies them to PostgreSQL exactly once
// (lotteries, draws, awards, outbox rows). See docs/writer.md.
#include <atomic>
#include <iostream>

#include "CLI/CLI.hpp"
#include "lottery/common/cli.h"
#include "lottery/common/daemon.h"
#include "lottery/writer/config.h"
#include "lottery/writer/writer.h"
#include "spdlog/cfg/helpers.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

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

  const std::atomic<bool>& stop = lottery::daemon::InstallStopSignals();

  lottery::metrics::Registry registry;
  auto writer = lottery::writer::Writer::Create(config, registry);
  if (!writer.ok()) {
    spdlog::error("configuration: {}", writer.status().ToString());
    return 2;
  }
  auto* w = writer->get();
  auto http = lottery::daemon::StartMetricsServer(config.metrics_addr, &registry,
                                                  [w] { return w->Ready(); });
  if (!http.ok()) {
    spdlog::error("metrics server on {}: {}", config.metrics_addr, http.status().ToString());
    return 2;
  }
  absl::Status st = (*writer)->Run(stop);
  if (!st.ok()) {
    spdlog::error("writer stopped: {}", st.ToString());
    return 1;
  }
  spdlog::info("exiting");
  return 0;
}
