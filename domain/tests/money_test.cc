#include "lottery/domain/money.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::domain {
namespace {

using ::lottery::testing::IsOk;
using ::lottery::testing::StatusIs;

TEST(ParseStakeMinorTest, AcceptsTheGrammar) {
  struct Case {
    std::string_view in;
    int64_t minor;
  };
  for (const Case& c : {Case{"12345", 1234500}, Case{"0.5", 50}, Case{"0.05", 5}, Case{"0.01", 1},
                        Case{"1", 100}, Case{"1.1", 110}, Case{"1.10", 110}, Case{"007", 700},
                        Case{"1000000000", 100000000000}, Case{"999999999.99", 99999999999}}) {
    absl::StatusOr<int64_t> got = ParseStakeMinor(c.in);
    ASSERT_THAT(got, IsOk()) << c.in;
    EXPECT_EQ(*got, c.minor) << c.in;
  }
}

// The whole rejection list of the issue, each with its reason.
TEST(ParseStakeMinorTest, RejectionListWithReasons) {
  struct Case {
    std::string_view in;
    std::string_view reason;
  };
  const Case cases[] = {
      {"", "stake: empty"},
      {"0", "stake: zero"},
      {"0.00", "stake: zero"},
      {"000.0", "stake: zero"},
      {"-5", "stake: negative"},
      {"-0.5", "stake: negative"},
      {"+5", "stake: sign not allowed"},
      {"1e3", "stake: exponent not allowed"},
      {"1E3", "stake: exponent not allowed"},
      {"1.5e-1", "stake: exponent not allowed"},
      {"1.234", "stake: more than two decimal places"},
      {"0.001", "stake: more than two decimal places"},
      {"12a", "stake: non-digit character"},
      {"1,5", "stake: non-digit character"},
      {"0x10", "stake: non-digit character"},
      {"١٢", "stake: non-digit character"},  // Arabic-Indic digits are not [0-9]
      {"1 000", "stake: non-digit character"},
      {"NaN", "stake: non-digit character"},
      {" 5", "stake: surrounding whitespace"},
      {"5 ", "stake: surrounding whitespace"},
      {"5\n", "stake: surrounding whitespace"},
      {"\t5", "stake: surrounding whitespace"},
      {"1.2.3", "stake: more than one decimal point"},
      {".5", "stake: no digits before the decimal point"},
      {"5.", "stake: no digits after the decimal point"},
      {".", "stake: no digits before the decimal point"},
      {"1000000000.01", "stake: above the maximum of 1000000000 major units"},
      {"1000000001", "stake: above the maximum of 1000000000 major units"},
      {"99999999999999999999999999999", "stake: above the maximum of 1000000000 major units"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParseStakeMinor(c.in),
                StatusIs(absl::StatusCode::kInvalidArgument, std::string(c.reason)))
        << "input: \"" << c.in << "\"";
  }
}

TEST(ParseStakeMinorTest, ConfigurableMaximum) {
  EXPECT_THAT(ParseStakeMinor("10", 10), IsOk());
  EXPECT_THAT(ParseStakeMinor("10.01", 10), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     "stake: above the maximum of 10 major units"));
  // The largest maximum whose minor value fits in int64.
  const int64_t max_major = INT64_MAX / 100;
  absl::StatusOr<int64_t> big = ParseStakeMinor(std::to_string(max_major), max_major);
  ASSERT_THAT(big, IsOk());
  EXPECT_EQ(*big, max_major * 100);
  EXPECT_THAT(ParseStakeMinor(std::to_string(max_major) + ".01", max_major),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseStakeMinor("1", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseStakeMinor("1", max_major + 1), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FormatMinorTest, ExactTwoPlaces) {
  EXPECT_EQ(FormatMinor(407385), "4073.85");
  EXPECT_EQ(FormatMinor(50), "0.50");
  EXPECT_EQ(FormatMinor(5), "0.05");
  EXPECT_EQ(FormatMinor(0), "0.00");
  EXPECT_EQ(FormatMinor(1234500), "12345.00");
  EXPECT_EQ(FormatMinor(-5), "-0.05");
  EXPECT_EQ(FormatMinor(INT64_MAX), "92233720368547758.07");
  EXPECT_EQ(FormatMinor(INT64_MIN), "-92233720368547758.08");
}

}  // namespace
}  // namespace lottery::domain
