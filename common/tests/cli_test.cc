#include "lottery/common/cli.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace lottery::cli {
namespace {

std::optional<int> ParseArgs(CLI::App& app, std::vector<std::string> args) {
  std::vector<char*> argv;
  static std::string name = "prog";
  argv.push_back(name.data());
  for (auto& a : args) argv.push_back(a.data());
  return Parse(app, static_cast<int>(argv.size()), argv.data());
}

TEST(ParseLogLevelTest, KnownNamesAndAliases) {
  EXPECT_EQ(*ParseLogLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warning"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("err"), spdlog::level::err);
  EXPECT_EQ(*ParseLogLevel("off"), spdlog::level::off);
}

TEST(ParseLogLevelTest, AnUnknownNameIsAnErrorNotOff) {
  auto level = ParseLogLevel("verbose");
  ASSERT_FALSE(level.ok());
  EXPECT_EQ(level.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ParseLogLevel("INFO").ok());  // spdlog's names are lower case
  EXPECT_FALSE(ParseLogLevel("").ok());
}

TEST(ParseTest, UsageErrorsExitTwoHelpExitsZero) {
  std::string level = "info";
  int n = 0;
  CLI::App app{"test"};
  app.add_option("--log-level", level)->check(LogLevel());
  app.add_option("--n", n);
  EXPECT_EQ(ParseArgs(app, {"--log-level", "debug", "--n", "3"}), std::nullopt);
  EXPECT_EQ(level, "debug");
  EXPECT_EQ(ParseArgs(app, {"--log-level", "loud"}), kExitUsage);
  EXPECT_EQ(ParseArgs(app, {"--no-such-flag"}), kExitUsage);
  EXPECT_EQ(ParseArgs(app, {"--n", "three"}), kExitUsage);
  EXPECT_EQ(ParseArgs(app, {"--help"}), kExitOk);
}

}  // namespace
}  // namespace lottery::cli
