// lottery-verify: recomputes lottery-draw/v1 draws for players, auditors and test labs.
// See docs/fairness.md.
#include <iostream>

#include "CLI/CLI.hpp"
#include "commands.h"

int main(int argc, char** argv) {
  using namespace lottery::verify;
  CLI::App app{"Recompute and verify lottery-draw/v1 draws (docs/fairness.md)"};
  app.require_subcommand(1);

  AwardOptions award;
  std::string policy;
  uint32_t bps = 0;
  CLI::App* award_cmd =
      app.add_subcommand("award",
                         "verify one AwardCreated; prints 'verified' or the first "
                         "mismatching field (exit 1)");
  award_cmd->add_option("file", award.file, "binary protobuf (or JSON with --json); - = stdin");
  award_cmd->add_flag("--json", award.json, "input is protobuf canonical JSON");
  CLI::Option* policy_opt = award_cmd->add_option(
      "--policy", policy, "expected prize policy (winner_stake|pot); needed if the event has none");
  CLI::Option* bps_opt = award_cmd->add_option("--bps", bps, "expected prize basis points")
                             ->check(CLI::Range(0, 10000));

  DrawOptions draw;
  CLI::App* draw_cmd = app.add_subcommand("draw", "compute a draw from its inputs (JSON out)");
  draw_cmd->add_option("--lottery-id", draw.lottery_id, "lottery UUID")->required();
  draw_cmd->add_option("--seed", draw.seed_hex, "server seed, 64 hex digits")->required();
  draw_cmd->add_option("--mode", draw.mode, "uniform|stake_weighted")->required();
  draw_cmd
      ->add_option("--participant", draw.participants,
                   "PLAYER_UUID:TOTAL_STAKE_MINOR, repeated, in canonical order")
      ->required();

  DumpRawOptions dump;
  std::string dump_seed, dump_digest;
  CLI::App* dump_cmd =
      app.add_subcommand("dump-raw", "write N raw x values for statistical test batteries");
  dump_cmd->add_option("count", dump.count, "how many values")->required();
  CLI::Option* seed_opt = dump_cmd->add_option(
      "--seed", dump_seed, "fixed seed: x for i = 0..N-1 (default: fresh seed per value, i = 0)");
  dump_cmd->add_option("--lottery-id", dump.lottery_id, "lottery UUID (default all zero)");
  CLI::Option* digest_opt = dump_cmd->add_option(
      "--entries-digest", dump_digest, "64 hex digits (default SHA-256 of no participants)");
  dump_cmd->add_option("--format", dump.format, "binary (8 bytes big-endian each) | decimal");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help is a ParseError with exit code 0; every real usage error exits kExitBadInput.
    return app.exit(e) == 0 ? kExitOk : kExitBadInput;
  }

  if (*award_cmd) {
    if (*policy_opt) award.policy = policy;
    if (*bps_opt) award.bps = bps;
    return RunAward(award, std::cout, std::cerr);
  }
  if (*draw_cmd) return RunDraw(draw, std::cout, std::cerr);
  if (*seed_opt) dump.seed_hex = dump_seed;
  if (*digest_opt) dump.entries_digest_hex = dump_digest;
  std::ios::sync_with_stdio(false);
  return RunDumpRaw(dump, std::cout, std::cerr);
}
