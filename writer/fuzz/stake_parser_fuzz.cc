// libFuzzer target for the stake parser (scripts/fuzz stake_parser runs it).
//
// The first input byte picks the shape of the record, the rest is the value:
//   bit 0: a `uuid` header with a fixed valid id (else: none, the id is derived from the offset);
//   bit 1: a second, different `uuid` header (a producer that sends two);
//   bit 2: a null value (a tombstone) instead of the bytes.
// Properties, beyond the sanitizers' (no crash, no out-of-bounds read, no UB):
//   - the parse is deterministic;
//   - a Stake has a positive stake within the limit, and re-encoded in the documented wire form
//     it parses to the same Stake (no field is read from anywhere else);
//   - a Rejection has a reason, and its event id is printable and bounded;
//   - KeepRaw keeps a bounded prefix of the value and its full length.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "absl/strings/str_cat.h"
#include "lottery/domain/money.h"
#include "lottery/domain/uuid.h"
#include "lottery/writer/stake_parser.h"

namespace lottery::writer {
namespace {

void Check(bool ok, const char* what) {
  if (!ok) {
    fprintf(stderr, "stake_parser_fuzz: property violated: %s\n", what);
    abort();
  }
}

bool SameStake(const Stake& a, const Stake& b) {
  return a.event_id == b.event_id && a.player_id == b.player_id && a.game_id == b.game_id &&
         a.stake_minor == b.stake_minor;
}

void Fuzz(const uint8_t* data, size_t size) {
  if (size == 0) return;
  const uint8_t shape = data[0];
  RawMessage msg;
  msg.topic = "player.v1.staked";
  msg.partition = 1;
  msg.offset = 42;
  msg.value.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  msg.value_is_null = (shape & 4) != 0;
  if (msg.value_is_null) msg.value.clear();
  if (shape & 1) msg.headers.emplace_back("uuid", "0b6c5a5e-8c1d-4f3e-9a42-2f6f3d1f7a10");
  if (shape & 2) msg.headers.emplace_back("uuid", "1c7d6b6f-9d2e-4a4f-8b53-3a7a4e2a8b21");

  const ParseResult first = ParseStake(msg);
  const ParseResult again = ParseStake(msg);
  Check(first.index() == again.index(), "deterministic kind");

  if (const auto* stake = std::get_if<Stake>(&first)) {
    Check(SameStake(*stake, std::get<Stake>(again)), "deterministic stake");
    Check(stake->stake_minor > 0, "positive stake");
    Check(stake->stake_minor <= domain::kDefaultMaxStakeMajor * int64_t{100}, "stake limit");
    RawMessage canonical = msg;
    canonical.value = absl::StrCat(
        R"({"message":{"eventType":"player.stakeCreated"},"game":{"playerId":")",
        domain::FormatUuid(stake->player_id), R"(","gameId":")", domain::FormatUuid(stake->game_id),
        R"(","stake":")", domain::FormatMinor(stake->stake_minor), R"("}})");
    const ParseResult round = ParseStake(canonical);
    const auto* back = std::get_if<Stake>(&round);
    Check(back != nullptr && SameStake(*back, *stake), "canonical re-encoding parses back");
  } else if (const auto* rejection = std::get_if<Rejection>(&first)) {
    Check(!rejection->reason.empty(), "a rejection has a reason");
    Check(rejection->reason == std::get<Rejection>(again).reason, "deterministic reason");
    Check(rejection->event_id.size() <= 1024, "bounded event id");
    for (char c : rejection->event_id) {
      Check(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "printable event id");
    }
  }

  const RawEvidence raw = KeepRaw(msg.value);
  Check(raw.kept.size() <= kRawKeepBytes, "bounded evidence");
  Check(raw.length == static_cast<int64_t>(msg.value.size()), "evidence length");
  Check(std::string_view(msg.value).substr(0, raw.kept.size()) == raw.kept, "evidence prefix");
}

}  // namespace
}  // namespace lottery::writer

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lottery::writer::Fuzz(data, size);
  return 0;
}
