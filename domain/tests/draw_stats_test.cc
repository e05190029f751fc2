// Unbiasedness of the draw. Everything here is deterministic (fixed seeds, fixed lottery ids), so
// a statistic either passes forever or fails forever: the tests cannot flake. The thresholds are
// the chi-square critical values at p = 1e-4 for the test's degrees of freedom.
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"
#include "lottery/domain/draw.h"

namespace lottery::domain {
namespace {

using ::lottery::testing::IsOk;

// Exhaustive check of the acceptance rule on reduced-width models of x (w = 1..12 bits), through
// the same code the 64-bit draw uses: for every T and every x, the accepted x are exactly
// [0, M - (M mod T)) and every ticket in [0, T) is hit by exactly floor(M / T) of them, i.e.
// the map from accepted x to tickets is exactly uniform.
TEST(AcceptanceRuleTest, ExhaustiveOnReducedWidthIsExactlyUniform) {
  for (unsigned w = 1; w <= 12; ++w) {
    const uint64_t m = uint64_t{1} << w;
    for (uint64_t t = 1; t < m; ++t) {
      std::vector<uint64_t> hits(t, 0);
      uint64_t accepted = 0;
      for (uint64_t x = 0; x < m; ++x) {
        const draw_internal::Acceptance a = draw_internal::Accept(x, t, w);
        ASSERT_EQ(a.accepted, x < m - m % t) << "w=" << w << " T=" << t << " x=" << x;
        if (!a.accepted) continue;
        ASSERT_LT(a.ticket, t);
        ++hits[a.ticket];
        ++accepted;
      }
      ASSERT_EQ(accepted, m - m % t) << "w=" << w << " T=" << t;
      for (uint64_t r = 0; r < t; ++r) {
        ASSERT_EQ(hits[r], m / t) << "w=" << w << " T=" << t << " r=" << r;
      }
      // Under the production constraint T < M/2 a single attempt is rejected with p < 1/2.
      if (t < m / 2) {
        ASSERT_LT(2 * (m % t), m);
      }
    }
  }
}

// The 64-bit rule on the edges a reduced width cannot show.
TEST(AcceptanceRuleTest, SixtyFourBitEdges) {
  const uint64_t max_t = (uint64_t{1} << 63) - 1;  // 2^64 mod T = 2
  EXPECT_TRUE(draw_internal::Accept(UINT64_MAX - 2, max_t).accepted);
  EXPECT_FALSE(draw_internal::Accept(UINT64_MAX - 1, max_t).accepted);
  EXPECT_FALSE(draw_internal::Accept(UINT64_MAX, max_t).accepted);
  EXPECT_EQ(draw_internal::Accept(UINT64_MAX - 2, max_t).ticket, max_t - 1);
  for (uint64_t t = 1; t != 0 && t < (uint64_t{1} << 63); t <<= 1) {
    EXPECT_TRUE(draw_internal::Accept(UINT64_MAX, t).accepted) << t;  // 2^64 mod 2^k = 0
  }
}

double ChiSquare(const std::vector<uint64_t>& observed, const std::vector<double>& expected) {
  double chi2 = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    const double d = static_cast<double>(observed[i]) - expected[i];
    chi2 += d * d / expected[i];
  }
  return chi2;
}

struct Frequencies {
  std::vector<uint64_t> winners;
  std::array<uint64_t, 256> top_byte{};  // of the accepted x
};

// `draws` draws over distinct lottery ids with one fixed seed; statistics only (test-side
// arithmetic), the draw itself stays integer-only.
Frequencies RunDraws(const std::vector<Participant>& participants, uint32_t draws,
                     uint8_t seed_byte) {
  Seed seed;
  seed.fill(seed_byte);
  Frequencies f;
  f.winners.assign(participants.size(), 0);
  Uuid lottery_id{};
  lottery_id[0] = seed_byte;
  for (uint32_t n = 0; n < draws; ++n) {
    for (int k = 0; k < 4; ++k) lottery_id[12 + k] = static_cast<uint8_t>(n >> (24 - 8 * k));
    absl::StatusOr<DrawResult> r = Draw(lottery_id, seed, participants);
    if (!r.ok()) {
      ADD_FAILURE() << r.status();
      return f;
    }
    ++f.winners[r->winner_index];
    ++f.top_byte[r->x >> 56];
  }
  return f;
}

std::vector<Participant> MakeParticipants(const std::vector<uint64_t>& weights) {
  std::vector<Participant> out;
  for (size_t i = 0; i < weights.size(); ++i) {
    Uuid id{};
    id[15] = static_cast<uint8_t>(i + 1);
    out.push_back(Participant{id, static_cast<int64_t>(weights[i]), weights[i]});
  }
  return out;
}

constexpr uint32_t kDraws = 1'000'000;

TEST(DrawFrequencyTest, UniformTenPlayersOverAMillionDraws) {
  const std::vector<Participant> ps = MakeParticipants(std::vector<uint64_t>(10, 1));
  const Frequencies f = RunDraws(ps, kDraws, 0x11);
  const double chi2 = ChiSquare(f.winners, std::vector<double>(10, kDraws / 10.0));
  EXPECT_LT(chi2, 33.72) << "df=9";  // p = 1e-4
  std::vector<uint64_t> top(f.top_byte.begin(), f.top_byte.end());
  EXPECT_LT(ChiSquare(top, std::vector<double>(256, kDraws / 256.0)), 347.65) << "df=255";
}

TEST(DrawFrequencyTest, WeightsOneTwoThreeOverAMillionDraws) {
  const std::vector<Participant> ps = MakeParticipants({1, 2, 3});
  const Frequencies f = RunDraws(ps, kDraws, 0x22);
  const double chi2 = ChiSquare(f.winners, {kDraws / 6.0, kDraws * 2 / 6.0, kDraws * 3 / 6.0});
  EXPECT_LT(chi2, 18.42) << "df=2";  // p = 1e-4
}

// Stake weights are proportional, not just ordered: 1:2:3 in large minor units behaves the same.
TEST(DrawFrequencyTest, LargeStakesOneTwoThree) {
  const uint64_t unit = 123'456'789'000;
  const std::vector<Participant> ps = MakeParticipants({unit, 2 * unit, 3 * unit});
  const Frequencies f = RunDraws(ps, 200'000, 0x33);
  const double chi2 = ChiSquare(f.winners, {200'000 / 6.0, 200'000 * 2 / 6.0, 200'000 * 3 / 6.0});
  EXPECT_LT(chi2, 18.42) << "df=2";
}

}  // namespace
}  // namespace lottery::domain
