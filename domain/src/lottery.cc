#include "lottery/domain/lottery.h"

#include "absl/strings/str_cat.h"
#include "string_view_compat.h"

namespace lottery::domain {

using internal::Sv;

std::string_view ToString(LotteryStatus status) {
  switch (status) {
    case LotteryStatus::kInWaiting:
      return "in_waiting";
    case LotteryStatus::kStarted:
      return "started";
    case LotteryStatus::kFinished:
      return "finished";
  }
  return "unknown";
}

std::string_view ToString(EntryStatus status) {
  switch (status) {
    case EntryStatus::kInWaiting:
      return "in_waiting";
    case EntryStatus::kStarted:
      return "started";
    case EntryStatus::kFinished:
      return "finished";
    case EntryStatus::kWinner:
      return "winner";
  }
  return "unknown";
}

absl::StatusOr<LotteryStatus> ParseLotteryStatus(std::string_view text) {
  if (text == "in_waiting") return LotteryStatus::kInWaiting;
  if (text == "started") return LotteryStatus::kStarted;
  if (text == "finished") return LotteryStatus::kFinished;
  return absl::InvalidArgumentError(absl::StrCat("lottery status: unknown \"", Sv(text), "\""));
}

absl::StatusOr<EntryStatus> ParseEntryStatus(std::string_view text) {
  if (text == "in_waiting") return EntryStatus::kInWaiting;
  if (text == "started") return EntryStatus::kStarted;
  if (text == "finished") return EntryStatus::kFinished;
  if (text == "winner") return EntryStatus::kWinner;
  return absl::InvalidArgumentError(absl::StrCat("entry status: unknown \"", Sv(text), "\""));
}

absl::Status CheckTransition(LotteryStatus from, LotteryStatus to) {
  const bool legal = (from == LotteryStatus::kInWaiting && to == LotteryStatus::kStarted) ||
                     (from == LotteryStatus::kStarted && to == LotteryStatus::kFinished);
  if (legal) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("lottery: illegal transition ", Sv(ToString(from)), " -> ", Sv(ToString(to))));
}

absl::Status CheckTransition(EntryStatus from, EntryStatus to) {
  const bool legal = (from == EntryStatus::kInWaiting && to == EntryStatus::kStarted) ||
                     (from == EntryStatus::kStarted &&
                      (to == EntryStatus::kFinished || to == EntryStatus::kWinner));
  if (legal) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("entry: illegal transition ", Sv(ToString(from)), " -> ", Sv(ToString(to))));
}

absl::Status GameRule::Validate() const {
  if (players_needed < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("game rule: players_needed ", players_needed, " below 2"));
  }
  if (mode != DrawMode::kUniform && mode != DrawMode::kStakeWeighted) {
    return absl::InvalidArgumentError("game rule: unknown draw mode");
  }
  if (policy != PrizePolicy::kWinnerStake && policy != PrizePolicy::kPot) {
    return absl::InvalidArgumentError("game rule: unknown prize policy");
  }
  if (bps > kMaxPrizeBps) {
    return absl::InvalidArgumentError(absl::StrCat("game rule: bps ", bps, " above 10000"));
  }
  return absl::OkStatus();
}

}  // namespace lottery::domain
