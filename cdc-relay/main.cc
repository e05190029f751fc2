// lottery-cdc-relay: streams the outbox publication through a pgoutput replication slot and
// publishes each outbox insert to Kafka exactly once. Everything lives in the library (cli.h,
// relay.h); this file only wires the subcommands.
#include <tuple>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "lottery/cdc/cli.h"
#include "lottery/cdc/recovery/commands.h"
#include "lottery/common/cli.h"

int main(int argc, char** argv) {
  using namespace lottery::cdc;
  CLI::App app{
      "lottery-cdc-relay: publish the PostgreSQL outbox to Kafka exactly once, from a logical "
      "replication slot (pgoutput). With no subcommand it runs the daemon (`run`)."};
  app.fallthrough();  // common options may follow the subcommand name
  CommonOptions options;
  AddCommonOptions(app, options);

  std::vector<std::pair<CLI::App*, CommandMain>> commands;
  CLI::App* run = app.add_subcommand("run", "stream the outbox to Kafka (the default)");
  commands.emplace_back(run, SetupRunCommand(*run, options));
  // Recovery commands (status, replay, recover, drop) register here the same way.
  using namespace lottery::cdc::recovery;
  for (auto [name, help, setup] :
       {std::tuple{"status", "slot, checkpoint, lag and a verdict (exit 0 = healthy)",
                   &SetupStatusCommand},
        std::tuple{"replay", "print the events the slot holds (--dry-run)", &SetupReplayCommand},
        std::tuple{"recover", "republish from the outbox table (--from-seq/--since/--slot-lost)",
                   &SetupRecoverCommand},
        std::tuple{"drop", "remove the slot (decommissioning)", &SetupDropCommand}}) {
    CLI::App* c = app.add_subcommand(name, help);
    commands.emplace_back(c, setup(*c, options));
  }

  app.require_subcommand(0, 1);
  LOTTERY_CLI_PARSE(app, argc, argv);
  for (auto& [command, command_main] : commands) {
    if (command->parsed()) return command_main();
  }
  return commands.front().second();  // no subcommand: run
}
