#include "lottery/common/cli.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace lottery::cli {

absl::StatusOr<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, spdlog::level::level_enum>, 9> kLevels = {
      {{"trace", spdlog::level::trace},
       {"debug", spdlog::level::debug},
       {"info", spdlog::level::info},
       {"warn", spdlog::level::warn},
       {"warning", spdlog::level::warn},
       {"error", spdlog::level::err},
       {"err", spdlog::level::err},
       {"critical", spdlog::level::critical},
       {"off", spdlog::level::off}}};
  for (const auto& [n, level] : kLevels) {
    if (n == name) return level;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level '", std::string(name),
                   "' (expected trace, debug, info, warn, error, critical or off)"));
}

CLI::Validator LogLevel() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto level = ParseLogLevel(value);
        return level.ok() ? std::string() : std::string(level.status().message());
      },
      "LEVEL", "log level");
}

std::optional<int> Parse(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;  // --help/--version: 0
  }
  return std::nullopt;
}

}  // namespace lottery::cli
