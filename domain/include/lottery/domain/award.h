// Protobuf glue for the lottery events (lottery/v1/award.proto, lottery.proto). Still pure: it
// builds and checks messages, it does not send them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/lottery.h"
#include "lottery/domain/prize.h"
#include "lottery/domain/uuid.h"
#include "lottery/v1/award.pb.h"
#include "lottery/v1/lottery.pb.h"

namespace lottery::domain {

lottery::v1::DrawMode ToProto(DrawMode mode);
lottery::v1::PrizePolicy ToProto(PrizePolicy policy);
// kInvalidArgument for *_UNSPECIFIED and unknown values.
absl::StatusOr<DrawMode> FromProto(lottery::v1::DrawMode mode);
absl::StatusOr<PrizePolicy> FromProto(lottery::v1::PrizePolicy policy);

// The LotteryCreated event: publishes the commitment before any entry set is complete.
lottery::v1::LotteryCreated BuildLotteryCreated(const Uuid& lottery_id, const Uuid& game_id,
                                                const Digest& commitment, const GameRule& rule,
                                                absl::Time created_at);

// The LotteryStarted event: the entry set is fixed.
lottery::v1::LotteryStarted BuildLotteryStarted(const Uuid& lottery_id, const Uuid& game_id,
                                                std::span<const Participant> participants,
                                                const Digest& entries_digest,
                                                absl::Time started_at);

// The AwardCreated event. `result` must come from Draw(lottery_id, seed, participants) and
// `win_sum_minor` from ComputeWinSum; the function copies, it does not check (VerifyAward
// does). The winner is participants[result.winner_index].
lottery::v1::AwardCreated BuildAwardCreated(const Uuid& award_id, const Uuid& lottery_id,
                                            const Uuid& game_id, const Seed& seed, DrawMode mode,
                                            std::span<const Participant> participants,
                                            const DrawResult& result, PrizePolicy policy,
                                            uint32_t bps, int64_t win_sum_minor,
                                            absl::Time drawn_at);

// Runs Draw and ComputeWinSum and builds the award: what the writer calls when a lottery
// finishes. Errors are those of Draw and ComputeWinSum (kInvalidArgument).
absl::StatusOr<lottery::v1::AwardCreated> DrawAward(const Uuid& award_id, const Uuid& lottery_id,
                                                    const Uuid& game_id, const Seed& seed,
                                                    DrawMode mode,
                                                    std::span<const Participant> participants,
                                                    PrizePolicy policy, uint32_t bps,
                                                    absl::Time drawn_at);

// Recomputes everything an award claims from the award alone: ids are canonical, the
// commitment, the participants' weights for the mode, the entries digest, T, the rejection loop
// (counter, draw_hmac, ticket), the winner and win_sum. Returns OK or kInvalidArgument whose
// message starts with the FIRST field that does not match, in that order, e.g.
// "proof.commitment does not match SHA-256(lottery-commit/v1 || server_seed)".
// The prize policy and bps are the event's; an override states what the auditor expects, and a
// differing event value is then a mismatch (an event without a policy takes the override).
absl::Status VerifyAward(const lottery::v1::AwardCreated& award,
                         std::optional<PrizePolicy> policy_override = std::nullopt,
                         std::optional<uint32_t> bps_override = std::nullopt);

}  // namespace lottery::domain
