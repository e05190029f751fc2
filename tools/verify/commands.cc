#include "commands.h"

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "google/protobuf/util/json_util.h"
#include "lottery/domain/award.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/hex.h"
#include "lottery/domain/prize.h"
#include "lottery/domain/uuid.h"
#include "lottery/v1/award.pb.h"

namespace lottery::verify {
namespace {

using domain::Digest;
using domain::Participant;
using domain::Seed;
using domain::Uuid;

// Status messages are absl::string_view, which Debian's Abseil does not alias to std's.
std::string Message(const absl::Status& s) { return std::string(s.message()); }

absl::StatusOr<std::string> ReadAll(const std::string& file) {
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(std::cin), {});
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot open " + file);
  std::string data((std::istreambuf_iterator<char>(in)), {});
  if (in.bad()) return absl::DataLossError("cannot read " + file);
  return data;
}

absl::StatusOr<std::vector<Participant>> ParseParticipants(domain::DrawMode mode,
                                                           const std::vector<std::string>& args) {
  std::vector<Participant> out;
  for (const std::string& arg : args) {
    const size_t colon = arg.find(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError("--participant " + arg +
                                        ": want PLAYER_UUID:TOTAL_STAKE_MINOR");
    }
    absl::StatusOr<Uuid> player = domain::ParseUuid(std::string_view(arg).substr(0, colon));
    if (!player.ok()) {
      return absl::InvalidArgumentError("--participant " + arg + ": " + Message(player.status()));
    }
    int64_t stake = 0;
    if (!absl::SimpleAtoi(arg.substr(colon + 1), &stake) || stake <= 0) {
      return absl::InvalidArgumentError("--participant " + arg +
                                        ": stake must be a positive integer of minor units");
    }
    out.push_back(Participant{*player, stake, domain::WeightFor(mode, stake)});
  }
  return out;
}

}  // namespace

int RunAward(const AwardOptions& options, std::ostream& out, std::ostream& err) {
  std::optional<domain::PrizePolicy> policy;
  if (options.policy) {
    absl::StatusOr<domain::PrizePolicy> p = domain::ParsePrizePolicy(*options.policy);
    if (!p.ok()) {
      err << Message(p.status()) << "\n";
      return kExitBadInput;
    }
    policy = *p;
  }
  absl::StatusOr<std::string> data = ReadAll(options.file);
  if (!data.ok()) {
    err << Message(data.status()) << "\n";
    return kExitBadInput;
  }
  lottery::v1::AwardCreated award;
  if (options.json) {
    const auto status = google::protobuf::util::JsonStringToMessage(*data, &award);
    if (!status.ok()) {
      err << "not an AwardCreated in protobuf JSON: " << status.ToString() << "\n";
      return kExitBadInput;
    }
  } else if (!award.ParseFromString(*data)) {
    err << "not a binary AwardCreated protobuf (use --json for JSON)\n";
    return kExitBadInput;
  }
  const absl::Status verdict = domain::VerifyAward(award, policy, options.bps);
  if (!verdict.ok()) {
    out << "mismatch: " << Message(verdict) << "\n";
    return kExitMismatch;
  }
  out << "verified\n";
  return kExitOk;
}

int RunDraw(const DrawOptions& options, std::ostream& out, std::ostream& err) {
  absl::StatusOr<Uuid> lottery_id = domain::ParseUuid(options.lottery_id);
  absl::StatusOr<Seed> seed = domain::FromHexArray<32>(options.seed_hex);
  absl::StatusOr<domain::DrawMode> mode = domain::ParseDrawMode(options.mode);
  for (const absl::Status& s : {lottery_id.status(), seed.status(), mode.status()}) {
    if (!s.ok()) {
      err << Message(s) << "\n";
      return kExitBadInput;
    }
  }
  absl::StatusOr<std::vector<Participant>> participants =
      ParseParticipants(*mode, options.participants);
  if (!participants.ok()) {
    err << Message(participants.status()) << "\n";
    return kExitBadInput;
  }
  absl::StatusOr<domain::DrawResult> r = domain::Draw(*lottery_id, *seed, *participants);
  if (!r.ok()) {
    err << Message(r.status()) << "\n";
    return kExitBadInput;
  }
  // Integers are printed as JSON numbers; every value is below 2^64, exact in any JSON reader
  // that keeps integers (Python, jq 1.7); JavaScript readers should not round-trip them.
  out << "{\"commitment\":\"" << domain::ToHex(domain::Commitment(*seed))
      << "\",\"entries_digest\":\"" << domain::ToHex(r->entries_digest)
      << "\",\"total_weight\":" << r->total_weight << ",\"counter\":" << r->counter
      << ",\"ticket\":" << r->ticket << ",\"winner\":\""
      << domain::FormatUuid((*participants)[r->winner_index].player_id)
      << "\",\"winner_index\":" << r->winner_index << ",\"x\":" << r->x << ",\"draw_hmac\":\""
      << domain::ToHex(r->draw_hmac) << "\"}\n";
  return kExitOk;
}

int RunDumpRaw(const DumpRawOptions& options, std::ostream& out, std::ostream& err) {
  const bool binary = options.format == "binary";
  if (!binary && options.format != "decimal") {
    err << "--format must be binary or decimal\n";
    return kExitBadInput;
  }
  absl::StatusOr<Uuid> lottery_id = domain::ParseUuid(options.lottery_id);
  if (!lottery_id.ok()) {
    err << Message(lottery_id.status()) << "\n";
    return kExitBadInput;
  }
  Digest digest = domain::EntriesDigest({});
  if (options.entries_digest_hex) {
    absl::StatusOr<Digest> d = domain::FromHexArray<32>(*options.entries_digest_hex);
    if (!d.ok()) {
      err << "--entries-digest: " << Message(d.status()) << "\n";
      return kExitBadInput;
    }
    digest = *d;
  }
  std::optional<Seed> fixed_seed;
  if (options.seed_hex) {
    absl::StatusOr<Seed> s = domain::FromHexArray<32>(*options.seed_hex);
    if (!s.ok()) {
      err << "--seed: " << Message(s.status()) << "\n";
      return kExitBadInput;
    }
    fixed_seed = *s;
    if (options.count > uint64_t{1} << 32) {
      err << "with --seed at most 2^32 values exist (the counter is 32 bits)\n";
      return kExitBadInput;
    }
  }
  for (uint64_t n = 0; n < options.count; ++n) {
    uint64_t x;
    if (fixed_seed) {
      x = domain::DrawX(*fixed_seed, *lottery_id, digest, static_cast<uint32_t>(n));
    } else {
      absl::StatusOr<Seed> s = domain::GenerateSeed();
      if (!s.ok()) {
        err << Message(s.status()) << "\n";
        return kExitBadInput;
      }
      x = domain::DrawX(*s, *lottery_id, digest, 0);
    }
    if (binary) {
      char bytes[8];
      for (int k = 0; k < 8; ++k) bytes[k] = static_cast<char>(x >> (56 - 8 * k));
      out.write(bytes, sizeof bytes);
    } else {
      out << x << "\n";
    }
    if (!out) return kExitBadInput;  // e.g. the battery closed the pipe
  }
  out.flush();
  return kExitOk;
}

}  // namespace lottery::verify
