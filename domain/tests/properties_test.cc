// Property tests (RapidCheck): money parsing, prize policies and draw determinism. A failure
// prints the seed to reproduce it (RC_PARAMS="reproduce=...").
#include <string>
#include <vector>

#include "gtest/gtest.h"
// rapidcheck/gtest.h needs gtest declared first.
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "lottery/domain/draw.h"
#include "lottery/domain/money.h"
#include "lottery/domain/prize.h"

namespace lottery::domain {
namespace {

RC_GTEST_PROP(MoneyProperty, FormatThenParseIsIdentity, ()) {
  const int64_t minor = *rc::gen::inRange<int64_t>(1, kDefaultMaxStakeMajor * 100 + 1);
  const absl::StatusOr<int64_t> parsed = ParseStakeMinor(FormatMinor(minor));
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == minor);
}

RC_GTEST_PROP(MoneyProperty, GrammarDecidesAcceptance, ()) {
  // Strings over the characters that matter; accepted iff they match ^[0-9]+(\.[0-9]{1,2})?$,
  // are not zero and are within the maximum.
  const std::string s = *rc::gen::container<std::string>(
      rc::gen::element('0', '1', '5', '9', '.', '-', '+', 'e', ' ', 'x'));
  const int64_t max_major = 1000;
  const size_t dot = s.find('.');
  const std::string int_part = s.substr(0, dot);
  const std::string frac = dot == std::string::npos ? "" : s.substr(dot + 1);
  auto all_digits = [](const std::string& t) {
    return t.find_first_not_of("0123456789") == std::string::npos;
  };
  bool grammar = !int_part.empty() && all_digits(int_part) && all_digits(frac) &&
                 (dot == std::string::npos || (!frac.empty() && frac.size() <= 2));
  const absl::StatusOr<int64_t> got = ParseStakeMinor(s, max_major);
  if (!grammar) {
    RC_ASSERT(!got.ok());
    RC_ASSERT(got.status().code() == absl::StatusCode::kInvalidArgument);
    RC_ASSERT(got.status().message().substr(0, 7) == "stake: ");
    return;
  }
  // Reference value computed a different way: strip leading zeros, compare as strings.
  std::string digits = int_part + frac + std::string(2 - frac.size(), '0');
  digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size()));
  const bool zero = digits.empty();
  const bool too_big = digits.size() > 6 || (digits.size() == 6 && digits > "100000");
  if (zero || too_big) {
    RC_ASSERT(!got.ok());
  } else {
    RC_ASSERT(got.ok());
    RC_ASSERT(std::to_string(*got) == digits);
  }
}

RC_GTEST_PROP(PrizeProperty, FloorNeverAboveBase, ()) {
  const int64_t winner = *rc::gen::inRange<int64_t>(0, INT64_MAX);
  const int64_t pot = *rc::gen::inRange<int64_t>(winner, INT64_MAX);
  const uint32_t bps = *rc::gen::inRange<uint32_t>(0, kMaxPrizeBps + 1);
  for (PrizePolicy policy : {PrizePolicy::kWinnerStake, PrizePolicy::kPot}) {
    const int64_t base = policy == PrizePolicy::kPot ? pot : winner;
    const absl::StatusOr<int64_t> win = ComputeWinSum(policy, bps, winner, pot);
    RC_ASSERT(win.ok());
    RC_ASSERT(*win >= 0);
    RC_ASSERT(*win <= base);
    // floor: win * 10000 <= base * bps < (win + 1) * 10000, in exact 128-bit arithmetic.
    const __int128 lhs = static_cast<__int128>(*win) * kMaxPrizeBps;
    const __int128 prod = static_cast<__int128>(base) * bps;
    RC_ASSERT(lhs <= prod);
    RC_ASSERT(prod < lhs + kMaxPrizeBps);
  }
}

RC_GTEST_PROP(DrawProperty, DeterministicAndConsistent, ()) {
  const auto seed_bytes =
      *rc::gen::container<std::vector<uint8_t>>(32, rc::gen::arbitrary<uint8_t>());
  const auto id_bytes =
      *rc::gen::container<std::vector<uint8_t>>(16, rc::gen::arbitrary<uint8_t>());
  const auto stakes = *rc::gen::nonEmpty(
      rc::gen::container<std::vector<int64_t>>(rc::gen::inRange<int64_t>(1, 100'000'000'000)));
  const DrawMode mode = *rc::gen::element(DrawMode::kUniform, DrawMode::kStakeWeighted);
  Seed seed;
  std::copy(seed_bytes.begin(), seed_bytes.end(), seed.begin());
  Uuid lottery_id;
  std::copy(id_bytes.begin(), id_bytes.end(), lottery_id.begin());
  std::vector<Entry> entries;
  for (size_t i = 0; i < stakes.size(); ++i) {
    Uuid player{};
    player[0] = static_cast<uint8_t>(i % 7);  // players repeat: exercises the merge
    entries.push_back(Entry{player, stakes[i]});
  }
  const auto participants = ParticipantsFromEntries(mode, entries);
  RC_ASSERT(participants.ok());
  const auto first = Draw(lottery_id, seed, *participants);
  const auto second = Draw(lottery_id, seed, *participants);
  RC_ASSERT(first.ok());
  RC_ASSERT(second.ok());
  RC_ASSERT(first->counter == second->counter);
  RC_ASSERT(first->ticket == second->ticket);
  RC_ASSERT(first->winner_index == second->winner_index);
  RC_ASSERT(first->draw_hmac == second->draw_hmac);

  // The result is what the rule says it is.
  uint64_t total = 0;
  for (const Participant& p : *participants) total += p.weight;
  RC_ASSERT(first->total_weight == total);
  RC_ASSERT(first->ticket < total);
  RC_ASSERT(first->ticket == first->x % total);
  RC_ASSERT(first->x == DrawX(seed, lottery_id, first->entries_digest, first->counter));
  uint64_t before = 0;
  for (size_t i = 0; i < first->winner_index; ++i) before += (*participants)[i].weight;
  RC_ASSERT(before <= first->ticket);
  RC_ASSERT(first->ticket < before + (*participants)[first->winner_index].weight);
  // Every earlier attempt was rejected.
  for (uint32_t i = 0; i < first->counter; ++i) {
    RC_ASSERT(
        !draw_internal::Accept(DrawX(seed, lottery_id, first->entries_digest, i), total).accepted);
  }
}

}  // namespace
}  // namespace lottery::domain
