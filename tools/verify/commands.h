// The subcommands of lottery-verify, as functions from parsed options to an exit code, so that
// main.cc stays wiring only. Each writes its result to `out` and problems to `err`.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace lottery::verify {

// Exit codes: 0 verified / done, 1 the award does not verify, 2 bad input or usage.
inline constexpr int kExitOk = 0;
inline constexpr int kExitMismatch = 1;
inline constexpr int kExitBadInput = 2;

struct AwardOptions {
  std::string file = "-";  // "-" is stdin
  bool json = false;       // protobuf canonical JSON instead of binary protobuf
  std::optional<std::string> policy;
  std::optional<uint32_t> bps;
};
// Prints "verified", or "mismatch: <first bad field> ..." and returns kExitMismatch.
int RunAward(const AwardOptions& options, std::ostream& out, std::ostream& err);

struct DrawOptions {
  std::string lottery_id;
  std::string seed_hex;
  std::string mode;
  std::vector<std::string> participants;  // "PLAYER_UUID:TOTAL_STAKE_MINOR", canonical order
};
// Prints one JSON object: commitment, entries_digest, total_weight, counter, ticket, winner,
// plus winner_index, x and draw_hmac.
int RunDraw(const DrawOptions& options, std::ostream& out, std::ostream& err);

struct DumpRawOptions {
  uint64_t count = 0;
  std::optional<std::string> seed_hex;  // absent: a fresh CSPRNG seed per draw, counter 0
  std::string lottery_id = "00000000-0000-0000-0000-000000000000";
  std::optional<std::string> entries_digest_hex;  // default SHA-256 of the empty string
  std::string format = "binary";                  // binary (8 bytes big-endian each) | decimal
};
// Writes the raw x values for statistical test batteries.
int RunDumpRaw(const DumpRawOptions& options, std::ostream& out, std::ostream& err);

}  // namespace lottery::verify
