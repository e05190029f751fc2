#include "lottery/domain/award.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "lottery/common/status.h"
#include "lottery/domain/money.h"
#include "string_view_compat.h"

namespace lottery::domain {
namespace {

using internal::Std;
using internal::Sv;

void SetTimestamp(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);  // floors, so nanos is never negative
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
}

template <size_t N>
std::string AsBytes(const std::array<uint8_t, N>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

template <size_t N>
bool SameBytes(const std::string& field, const std::array<uint8_t, N>& bytes) {
  return field == AsBytes(bytes);
}

void FillParticipants(std::span<const Participant> participants,
                      google::protobuf::RepeatedPtrField<lottery::v1::Participant>* out) {
  for (const Participant& p : participants) {
    lottery::v1::Participant* pp = out->Add();
    pp->set_player_id(FormatUuid(p.player_id));
    pp->set_total_stake_minor(p.total_stake_minor);
    pp->set_weight(p.weight);
  }
}

absl::Status Mismatch(std::string_view field, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(Sv(field), " ", Sv(what)));
}

absl::StatusOr<Uuid> CanonicalId(std::string_view field, const std::string& text) {
  if (!IsCanonicalUuid(text)) {
    return Mismatch(field, absl::StrCat("\"", text, "\" is not a lowercase canonical UUID"));
  }
  return ParseUuid(text);
}

}  // namespace

lottery::v1::DrawMode ToProto(DrawMode mode) {
  switch (mode) {
    case DrawMode::kUniform:
      return lottery::v1::UNIFORM;
    case DrawMode::kStakeWeighted:
      return lottery::v1::STAKE_WEIGHTED;
  }
  return lottery::v1::DRAW_MODE_UNSPECIFIED;
}

lottery::v1::PrizePolicy ToProto(PrizePolicy policy) {
  switch (policy) {
    case PrizePolicy::kWinnerStake:
      return lottery::v1::WINNER_STAKE;
    case PrizePolicy::kPot:
      return lottery::v1::POT;
  }
  return lottery::v1::PRIZE_POLICY_UNSPECIFIED;
}

absl::StatusOr<DrawMode> FromProto(lottery::v1::DrawMode mode) {
  switch (mode) {
    case lottery::v1::UNIFORM:
      return DrawMode::kUniform;
    case lottery::v1::STAKE_WEIGHTED:
      return DrawMode::kStakeWeighted;
    default:
      return absl::InvalidArgumentError(absl::StrCat("draw mode: unsupported value ", mode));
  }
}

absl::StatusOr<PrizePolicy> FromProto(lottery::v1::PrizePolicy policy) {
  switch (policy) {
    case lottery::v1::WINNER_STAKE:
      return PrizePolicy::kWinnerStake;
    case lottery::v1::POT:
      return PrizePolicy::kPot;
    default:
      return absl::InvalidArgumentError(absl::StrCat("prize policy: unsupported value ", policy));
  }
}

lottery::v1::LotteryCreated BuildLotteryCreated(const Uuid& lottery_id, const Uuid& game_id,
                                                const Digest& commitment, const GameRule& rule,
                                                absl::Time created_at) {
  lottery::v1::LotteryCreated out;
  out.set_lottery_id(FormatUuid(lottery_id));
  out.set_game_id(FormatUuid(game_id));
  out.set_commitment(AsBytes(commitment));
  out.set_players_needed(static_cast<uint32_t>(rule.players_needed));
  out.set_mode(ToProto(rule.mode));
  out.set_prize_policy(ToProto(rule.policy));
  out.set_prize_bps(rule.bps);
  SetTimestamp(created_at, out.mutable_created_at());
  return out;
}

lottery::v1::LotteryStarted BuildLotteryStarted(const Uuid& lottery_id, const Uuid& game_id,
                                                std::span<const Participant> participants,
                                                const Digest& entries_digest,
                                                absl::Time started_at) {
  lottery::v1::LotteryStarted out;
  out.set_lottery_id(FormatUuid(lottery_id));
  out.set_game_id(FormatUuid(game_id));
  FillParticipants(participants, out.mutable_participants());
  out.set_entries_digest(AsBytes(entries_digest));
  SetTimestamp(started_at, out.mutable_started_at());
  return out;
}

lottery::v1::AwardCreated BuildAwardCreated(const Uuid& award_id, const Uuid& lottery_id,
                                            const Uuid& game_id, const Seed& seed, DrawMode mode,
                                            std::span<const Participant> participants,
                                            const DrawResult& result, PrizePolicy policy,
                                            uint32_t bps, int64_t win_sum_minor,
                                            absl::Time drawn_at) {
  lottery::v1::AwardCreated out;
  out.set_award_id(FormatUuid(award_id));
  out.set_lottery_id(FormatUuid(lottery_id));
  out.set_game_id(FormatUuid(game_id));
  if (result.winner_index < participants.size()) {
    out.set_player_id(FormatUuid(participants[result.winner_index].player_id));
  }
  out.set_win_sum_minor(win_sum_minor);
  out.set_win_sum(FormatMinor(win_sum_minor));
  SetTimestamp(drawn_at, out.mutable_drawn_at());
  out.set_prize_policy(ToProto(policy));
  out.set_prize_bps(bps);

  lottery::v1::DrawProof* proof = out.mutable_proof();
  proof->set_algorithm(std::string(kDrawAlgorithm));
  proof->set_server_seed(AsBytes(seed));
  proof->set_commitment(AsBytes(Commitment(seed)));
  proof->set_mode(ToProto(mode));
  FillParticipants(participants, proof->mutable_participants());
  proof->set_entries_digest(AsBytes(result.entries_digest));
  proof->set_counter(result.counter);
  proof->set_total_weight(result.total_weight);
  proof->set_ticket(result.ticket);
  proof->set_draw_hmac(AsBytes(result.draw_hmac));
  return out;
}

absl::StatusOr<lottery::v1::AwardCreated> DrawAward(const Uuid& award_id, const Uuid& lottery_id,
                                                    const Uuid& game_id, const Seed& seed,
                                                    DrawMode mode,
                                                    std::span<const Participant> participants,
                                                    PrizePolicy policy, uint32_t bps,
                                                    absl::Time drawn_at) {
  ASSIGN_OR_RETURN(const DrawResult result, Draw(lottery_id, seed, participants));
  int64_t pot = 0;
  for (const Participant& p : participants) {
    if (__builtin_add_overflow(pot, p.total_stake_minor, &pot)) {
      return absl::InvalidArgumentError("prize: sum of all stakes overflows int64");
    }
  }
  ASSIGN_OR_RETURN(
      const int64_t win_sum,
      ComputeWinSum(policy, bps, participants[result.winner_index].total_stake_minor, pot));
  return BuildAwardCreated(award_id, lottery_id, game_id, seed, mode, participants, result, policy,
                           bps, win_sum, drawn_at);
}

absl::Status VerifyAward(const lottery::v1::AwardCreated& award,
                         std::optional<PrizePolicy> policy_override,
                         std::optional<uint32_t> bps_override) {
  const lottery::v1::DrawProof& proof = award.proof();
  if (proof.algorithm() != kDrawAlgorithm) {
    return Mismatch("proof.algorithm", absl::StrCat("\"", proof.algorithm(), "\" is not \"",
                                                    Sv(kDrawAlgorithm), "\""));
  }
  RETURN_IF_ERROR(CanonicalId("award_id", award.award_id()).status());
  ASSIGN_OR_RETURN(const Uuid lottery_id, CanonicalId("lottery_id", award.lottery_id()));
  RETURN_IF_ERROR(CanonicalId("game_id", award.game_id()).status());

  Seed seed;
  if (proof.server_seed().size() != seed.size()) {
    return Mismatch("proof.server_seed",
                    absl::StrCat("has ", proof.server_seed().size(), " bytes, want 32"));
  }
  std::copy(proof.server_seed().begin(), proof.server_seed().end(), seed.begin());
  if (!SameBytes(proof.commitment(), Commitment(seed))) {
    return Mismatch("proof.commitment", "does not match SHA-256(lottery-commit/v1 || server_seed)");
  }

  absl::StatusOr<DrawMode> mode = FromProto(proof.mode());
  if (!mode.ok()) return Mismatch("proof.mode", Std(mode.status().message()));

  if (proof.participants().empty()) return Mismatch("proof.participants", "is empty");
  std::vector<Participant> participants;
  participants.reserve(proof.participants_size());
  int64_t pot = 0;
  for (int i = 0; i < proof.participants_size(); ++i) {
    const lottery::v1::Participant& pp = proof.participants(i);
    const std::string field = absl::StrCat("proof.participants[", i, "]");
    ASSIGN_OR_RETURN(const Uuid player, CanonicalId(field + ".player_id", pp.player_id()));
    for (const Participant& earlier : participants) {
      if (earlier.player_id == player) {
        return Mismatch(field + ".player_id", "repeats an earlier participant");
      }
    }
    if (pp.total_stake_minor() <= 0) {
      return Mismatch(field + ".total_stake_minor", "is not positive");
    }
    if (pp.weight() != WeightFor(*mode, pp.total_stake_minor())) {
      return Mismatch(field + ".weight", absl::StrCat("does not match mode ", Sv(ToString(*mode))));
    }
    if (__builtin_add_overflow(pot, pp.total_stake_minor(), &pot)) {
      return Mismatch(field + ".total_stake_minor", "makes the sum of stakes overflow int64");
    }
    participants.push_back(Participant{player, pp.total_stake_minor(), pp.weight()});
  }
  if (!SameBytes(proof.entries_digest(), EntriesDigest(participants))) {
    return Mismatch("proof.entries_digest", "does not match the participants");
  }

  absl::StatusOr<DrawResult> result = Draw(lottery_id, seed, participants);
  if (!result.ok()) return Mismatch("proof.total_weight", Std(result.status().message()));
  if (proof.total_weight() != result->total_weight) {
    return Mismatch("proof.total_weight", absl::StrCat("is ", proof.total_weight(), ", recomputed ",
                                                       result->total_weight));
  }
  if (proof.counter() != result->counter) {
    return Mismatch("proof.counter",
                    absl::StrCat("is ", proof.counter(), ", recomputed ", result->counter));
  }
  if (!SameBytes(proof.draw_hmac(), result->draw_hmac)) {
    return Mismatch("proof.draw_hmac",
                    "does not match HMAC-SHA256(server_seed, lottery-draw/v1 || lottery_id || "
                    "entries_digest || counter)");
  }
  if (proof.ticket() != result->ticket) {
    return Mismatch("proof.ticket",
                    absl::StrCat("is ", proof.ticket(), ", recomputed ", result->ticket));
  }
  const Participant& winner = participants[result->winner_index];
  if (award.player_id() != FormatUuid(winner.player_id)) {
    return Mismatch("player_id", absl::StrCat("is \"", award.player_id(), "\", recomputed \"",
                                              FormatUuid(winner.player_id), "\""));
  }

  std::optional<PrizePolicy> event_policy;
  if (award.prize_policy() != lottery::v1::PRIZE_POLICY_UNSPECIFIED) {
    absl::StatusOr<PrizePolicy> p = FromProto(award.prize_policy());
    if (!p.ok()) return Mismatch("prize_policy", Std(p.status().message()));
    event_policy = *p;
  }
  if (event_policy && policy_override && *event_policy != *policy_override) {
    return Mismatch("prize_policy", absl::StrCat("is ", Sv(ToString(*event_policy)), ", expected ",
                                                 Sv(ToString(*policy_override))));
  }
  const std::optional<PrizePolicy> policy = event_policy ? event_policy : policy_override;
  if (!policy) return Mismatch("prize_policy", "is unspecified and no policy was given");
  // proto3 cannot tell an absent prize_bps from 0; an event that states its policy states its
  // bps too, so 0 is taken literally then.
  uint32_t bps = award.prize_bps();
  if (bps_override) {
    if (event_policy && bps != *bps_override) {
      return Mismatch("prize_bps", absl::StrCat("is ", bps, ", expected ", *bps_override));
    }
    bps = *bps_override;
  } else if (!event_policy) {
    return Mismatch("prize_bps", "is unspecified (no prize_policy) and no bps was given");
  }
  absl::StatusOr<int64_t> win_sum = ComputeWinSum(*policy, bps, winner.total_stake_minor, pot);
  if (!win_sum.ok()) return Mismatch("prize_bps", Std(win_sum.status().message()));
  if (award.win_sum_minor() != *win_sum) {
    return Mismatch("win_sum_minor",
                    absl::StrCat("is ", award.win_sum_minor(), ", recomputed ", *win_sum));
  }
  if (award.win_sum() != FormatMinor(*win_sum)) {
    return Mismatch("win_sum", absl::StrCat("is \"", award.win_sum(), "\", recomputed \"",
                                            FormatMinor(*win_sum), "\""));
  }
  return absl::OkStatus();
}

}  // namespace lottery::domain
