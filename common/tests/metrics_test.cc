#include "lottery/common/metrics.h"

#include <httplib.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::metrics {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersPrometheusTextFormat) {
  Registry r;
  r.AddCounter("lottery_things_total", "Things.").Inc(3);
  r.AddGauge("lottery_lag{partition=\"0\"}", "Lag.").Set(7);
  r.AddGauge("lottery_lag{partition=\"1\"}", "Lag.").Set(2.5);
  Histogram& h = r.AddHistogram("lottery_latency_seconds", "Latency.", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(5);
  std::string text = r.Render();
  EXPECT_THAT(text, HasSubstr("# TYPE lottery_things_total counter\nlottery_things_total 3\n"));
  EXPECT_THAT(text, HasSubstr("lottery_lag{partition=\"0\"} 7\n"));
  EXPECT_THAT(text, HasSubstr("lottery_lag{partition=\"1\"} 2.5\n"));
  EXPECT_EQ(text.find("# TYPE lottery_lag gauge"), text.rfind("# TYPE lottery_lag gauge"));  // once
  EXPECT_THAT(text, HasSubstr("lottery_latency_seconds_bucket{le=\"0.10000000000000001\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("lottery_latency_seconds_bucket{le=\"1\"} 2\n"));
  EXPECT_THAT(text, HasSubstr("lottery_latency_seconds_bucket{le=\"+Inf\"} 3\n"));
  EXPECT_THAT(text, HasSubstr("lottery_latency_seconds_count 3\n"));
}

TEST(MetricsTest, ServesMetricsHealthAndReadiness) {
  Registry r;
  r.AddCounter("lottery_served_total", "Served.").Inc();
  std::atomic<bool> ready{false};
  auto server = HttpServer::Start("127.0.0.1:0", &r, [&] { return ready.load(); });
  ASSERT_OK(server);
  httplib::Client client("127.0.0.1", (*server)->port());
  auto m = client.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 200);
  EXPECT_THAT(m->body, HasSubstr("lottery_served_total 1"));
  EXPECT_EQ(client.Get("/healthz")->status, 200);
  EXPECT_EQ(client.Get("/readyz")->status, 503);
  ready = true;
  EXPECT_EQ(client.Get("/readyz")->status, 200);
}

TEST(MetricsTest, BadAddressIsInvalidArgument) {
  Registry r;
  EXPECT_THAT(HttpServer::Start("nonsense", &r, nullptr),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace lottery::metrics
