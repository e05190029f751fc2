// What every binary of this tree shares on its command line: one exit-code map and one rule for
// log levels.
//
//   exit 0  done (also --help)
//   exit 1  failed at run time
//   exit 2  bad usage or configuration: an unknown flag, a bad value, an unknown log level
//
// CLI11's own CLI11_PARSE exits with its internal codes (104-109 and more) on a usage error;
// LOTTERY_CLI_PARSE maps every usage error to 2 and prints CLI11's message. spdlog's
// level::from_str silently turns an unknown name into "off" (no log at all); ParseLogLevel and
// the LogLevel() validator refuse it instead.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "spdlog/common.h"

namespace lottery::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// trace, debug, info, warn (or warning), error (or err), critical, off; else InvalidArgument.
absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

// For add_option("--log-level", ...)->check(LogLevel()): a bad value (flag or environment) is a
// usage error at parse time.
CLI::Validator LogLevel();

// Parses the command line: nullopt to go on, else the exit code (0 after --help, kExitUsage on a
// usage error; CLI11's message is printed).
std::optional<int> Parse(CLI::App& app, int argc, char** argv);

}  // namespace lottery::cli

#define LOTTERY_CLI_PARSE(app, argc, argv)                                              \
  if (std::optional<int> lottery_cli_rc = ::lottery::cli::Parse((app), (argc), (argv))) \
  return *lottery_cli_rc
