// ParseListenAddress: the one spelling of every listen address (LOTTERY_METRICS_ADDR,
// --metrics-addr, stakegen's --listen).
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/metrics.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::metrics {
namespace {

using ::lottery::testing::StatusIs;
using ::testing::HasSubstr;

std::string Parsed(const std::string& text) {
  auto a = ParseListenAddress(text);
  if (!a.ok()) return "error";
  return a->has_value() ? (*a)->ToString() : "disabled";
}

TEST(ParseListenAddressTest, OffAndEmptyDisable) {
  EXPECT_EQ(Parsed(""), "disabled");
  EXPECT_EQ(Parsed("off"), "disabled");
}

TEST(ParseListenAddressTest, HostPortAndBarePort) {
  EXPECT_EQ(Parsed("127.0.0.1:9464"), "127.0.0.1:9464");
  EXPECT_EQ(Parsed("0.0.0.0:9464"), "0.0.0.0:9464");
  EXPECT_EQ(Parsed("localhost:0"), "localhost:0");
  EXPECT_EQ(Parsed("metrics-host.internal:65535"), "metrics-host.internal:65535");
  EXPECT_EQ(Parsed(":9465"), "127.0.0.1:9465") << "a bare port is loopback, not every interface";
  EXPECT_EQ(Parsed("[::1]:9464"), "[::1]:9464");
  auto a = ParseListenAddress("[::]:80");
  ASSERT_OK(a);
  ASSERT_TRUE(a->has_value());
  EXPECT_EQ((*a)->host, "::");
  EXPECT_EQ((*a)->port, 80);
}

TEST(ParseListenAddressTest, AnythingElseIsInvalidArgument) {
  for (const char* bad :
       {"OFF", "none", "9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1",
        "127.0.0.1:+80", "127.0.0.1:80x", "127.0.0.1:999999", " 127.0.0.1:80", "127.0.0.1:80 ",
        "::1:9464", "[::1:9464", "[]:80", "[zz]:80", "host name:80", "a/b:80", ":"}) {
    EXPECT_THAT(ParseListenAddress(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ParseListenAddress("9464").status().message(), HasSubstr("'9464'"));
}

TEST(ParseListenAddressTest, TheMetricsServerRefusesADisabledAddress) {
  Registry r;
  EXPECT_THAT(HttpServer::Start("off", &r, nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HttpServer::Start("127.0.0.1:x", &r, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace lottery::metrics
