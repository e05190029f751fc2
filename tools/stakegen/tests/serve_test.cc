// `lottery-stakegen serve` without a broker: the limits and deadlines of the HTTP side. Nothing
// here reaches Kafka (the publisher points at a closed port and is never called), so a request
// that would publish is not sent; serve_kafkatest.cc covers publishing.
#include "serve.h"

#include <httplib.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/testing/hostile_clients.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::stakegen {
namespace {

namespace lt = ::lottery::testing;
using ::lottery::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto pub = Publisher::Create({"127.0.0.1:1", "stakes_unused", {}});
    ASSERT_OK(pub);
    publisher_ = std::move(*pub);
    auto server = StakeServer::Start("127.0.0.1:0", publisher_.get(), Options(), 1, 0);
    ASSERT_OK(server);
    server_ = std::move(*server);
  }

  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<StakeServer> server_;
};

TEST_F(ServeTest, ABodyOverOneMebibyteIs413AndTheServerStaysHealthy) {
  httplib::Client client("127.0.0.1", server_->port());
  client.set_read_timeout(5, 0);
  auto res = client.Post("/stake", std::string(kMaxRequestBodyBytes + 1, 'x'), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 413);

  // Exactly the limit is read and parsed (and is not JSON): the limit is not off by one.
  res = client.Post("/stake", std::string(kMaxRequestBodyBytes, 'x'), "application/json");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 400);
  EXPECT_THAT(res->body, HasSubstr("not valid JSON"));

  res = client.Get("/healthz");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
}

TEST_F(ServeTest, HealthAnswersWithinASecondUnder200IdleAnd3SlowHeaderClients) {
  std::vector<lt::Socket> idle;
  idle.reserve(200);
  for (int i = 0; i < 200; ++i) {
    idle.push_back(lt::Connect(server_->port()));
    ASSERT_GE(idle.back().fd(), 0) << "connection " << i;
  }
  lt::SlowHeaderClients slow(server_->port(), 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (int i = 0; i < 5; ++i) {
    lt::Probe p = lt::Get(server_->port(), "/healthz");
    EXPECT_THAT(p.response, StartsWith("HTTP/1.1 200")) << "probe " << i;
    EXPECT_LT(p.elapsed.count(), 1000) << "probe " << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

TEST(ServeAddressTest, ListenFollowsTheListenAddressConvention) {
  auto pub = Publisher::Create({"127.0.0.1:1", "stakes_unused", {}});
  ASSERT_OK(pub);
  for (const char* bad : {"8081", "off", "127.0.0.1:http", "::1:8081"}) {
    EXPECT_THAT(StakeServer::Start(bad, pub->get(), Options(), 1, 0),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
  auto server = StakeServer::Start(":0", pub->get(), Options(), 1, 0);
  ASSERT_OK(server);
  EXPECT_EQ((*server)->address().host, "127.0.0.1");
  EXPECT_GT((*server)->port(), 0);
}

}  // namespace
}  // namespace lottery::stakegen
