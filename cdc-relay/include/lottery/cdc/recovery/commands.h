// The recovery commands of lottery-cdc-relay: status, replay, drop, recover. Each
// Setup*Command registers its flags on `command` and returns what main runs when it was chosen
// (same shape as SetupRunCommand in lottery/cdc/cli.h). docs/operations.md is the operator's
// manual; docs/delivery.md says why recovery neither loses nor repeats an event.
#pragma once

#include "CLI/CLI.hpp"
#include "lottery/cdc/cli.h"

namespace lottery::cdc::recovery {

// `status [--json] [--max-lag-bytes N]`: exit code = StatusVerdict (0 healthy).
CommandMain SetupStatusCommand(CLI::App& command, const CommonOptions& options);
// `replay --dry-run [--from-lsn X] [--to-lsn Y]`: JSON lines on stdout; non-zero on any decode
// error.
CommandMain SetupReplayCommand(CLI::App& command, const CommonOptions& options);
// `drop [--force] [--delete-checkpoint]`.
CommandMain SetupDropCommand(CLI::App& command, const CommonOptions& options);
// `recover --from-seq N | --since TIME | --slot-lost`.
CommandMain SetupRecoverCommand(CLI::App& command, const CommonOptions& options);

}  // namespace lottery::cdc::recovery
