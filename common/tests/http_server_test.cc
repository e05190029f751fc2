// The daemons' HTTP server under hostile clients: idle TCP connections and slow-header clients
// (a request line, then one header byte per second) must not delay /healthz beyond a second.
// Plain sockets on 127.0.0.1, no other server.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lottery/common/metrics.h"
#include "lottery/common/testing/hostile_clients.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::metrics {
namespace {

using Clock = std::chrono::steady_clock;
using ::lottery::testing::Connect;
using ::lottery::testing::Get;
using ::lottery::testing::Probe;
using ::lottery::testing::ReadUntilClosed;
using ::lottery::testing::SendAll;
using ::lottery::testing::SlowHeaderClients;
using ::lottery::testing::Socket;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(HttpServerTest, HealthAnswersWithinASecondUnder200IdleAnd3SlowHeaderClients) {
  Registry r;
  auto server = HttpServer::Start("127.0.0.1:0", &r, [] { return true; });
  ASSERT_OK(server);
  const int port = (*server)->port();

  std::vector<Socket> idle;
  idle.reserve(200);
  for (int i = 0; i < 200; ++i) {
    idle.push_back(Connect(port));
    ASSERT_GE(idle.back().fd(), 0) << "connection " << i;
  }
  SlowHeaderClients slow(port, 3);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let them all be accepted

  // Probe for ~3 s, so the slow clients have sent several bytes meanwhile.
  for (int i = 0; i < 6; ++i) {
    Probe p = Get(port, "/healthz");
    EXPECT_THAT(p.response, StartsWith("HTTP/1.1 200")) << "probe " << i;
    EXPECT_LT(p.elapsed.count(), 1000) << "probe " << i;
    Probe m = Get(port, "/readyz");
    EXPECT_THAT(m.response, StartsWith("HTTP/1.1 200")) << "probe " << i;
    EXPECT_LT(m.elapsed.count(), 1000) << "probe " << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
}

// The generic server's deadlines and limits, with short timeouts so the test stays quick.
http::ServerOptions Quick() {
  http::ServerOptions o;
  o.header_timeout = absl::Milliseconds(400);
  o.body_timeout = absl::Milliseconds(400);
  o.max_header_bytes = 1024;
  o.max_body_bytes = 100;
  return o;
}

std::unique_ptr<http::Server> StartServer(http::ServerOptions o) {
  auto s = std::make_unique<http::Server>(o);
  s->Handle("GET", "/healthz", [](const http::Request&) {
    return http::Response{200, "text/plain", "ok\n"};
  });
  s->Handle("POST", "/echo", [](const http::Request& r) {
    return http::Response{200, "text/plain", r.body};
  });
  s->HandleBlocking("POST", "/slow", [](const http::Request&) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    return http::Response{200, "text/plain", "slept\n"};
  });
  EXPECT_OK(s->Start({"127.0.0.1", 0}));
  return s;
}

// True when the peer closed `fd` within `timeout` (not merely sent nothing).
bool ClosedWithin(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, MSG_PEEK) <= 0;
}

TEST(HttpServerTest, EvictsTheOldestIdleConnectionAtTheLimit) {
  http::ServerOptions o = Quick();
  o.header_timeout = absl::Seconds(30);  // only eviction can make room
  o.max_connections = 20;
  auto server = StartServer(o);
  std::vector<Socket> idle;
  idle.reserve(200);
  for (int i = 0; i < 100; ++i) {
    idle.push_back(Connect(server->port()));
    ASSERT_GE(idle.back().fd(), 0) << "connection " << i;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Probe p = Get(server->port(), "/healthz");
  EXPECT_THAT(p.response, StartsWith("HTTP/1.1 200"));
  EXPECT_LT(p.elapsed.count(), 1000);
  EXPECT_TRUE(ClosedWithin(idle.front().fd(), std::chrono::milliseconds(500))) << "the oldest";
  EXPECT_FALSE(ClosedWithin(idle.back().fd(), std::chrono::milliseconds(100))) << "the newest";
}

TEST(HttpServerTest, SlowHeadersAndIdleKeepAliveAreClosedAtTheHeaderDeadline) {
  auto server = StartServer(Quick());
  Socket slow = Connect(server->port());
  ASSERT_TRUE(SendAll(slow.fd(), "GET /healthz HTTP/1.1\r\nX-Slow: "));
  Socket idle = Connect(server->port());
  auto start = Clock::now();
  std::string slow_answer;
  std::thread t([&] {
    // One byte every 100 ms: each read is recent, but the request as a whole is late.
    for (int i = 0; i < 20 && SendAll(slow.fd(), "a"); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  });
  slow_answer = ReadUntilClosed(slow.fd(), std::chrono::milliseconds(3000));
  auto slow_closed = Clock::now() - start;
  t.join();
  EXPECT_EQ(slow_answer, "") << "closed without an answer";
  EXPECT_GE(slow_closed, std::chrono::milliseconds(350)) << "not before header_timeout";
  EXPECT_LT(slow_closed, std::chrono::milliseconds(1000));
  EXPECT_EQ(ReadUntilClosed(idle.fd(), std::chrono::milliseconds(3000)), "") << "closed silently";
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1500));
}

TEST(HttpServerTest, ServesAnIpv6LiteralAndReportsTheKernelsPort) {
  http::Server server;
  server.Handle("GET", "/healthz", [](const http::Request&) {
    return http::Response{200, "text/plain", "ok\n"};
  });
  if (!server.Start({"::1", 0}).ok()) GTEST_SKIP() << "no IPv6 loopback here";
  ASSERT_GT(server.port(), 0);
  Socket s(::socket(AF_INET6, SOCK_STREAM, 0));
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(static_cast<uint16_t>(server.port()));
  a.sin6_addr = in6addr_loopback;
  ASSERT_EQ(::connect(s.fd(), reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_TRUE(SendAll(s.fd(), "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n"));
  EXPECT_THAT(ReadUntilClosed(s.fd(), std::chrono::milliseconds(2000)), StartsWith("HTTP/1.1 200"));
}

TEST(HttpServerTest, OversizedHeadersAndBodiesAreRejectedAndTheServerStaysHealthy) {
  auto server = StartServer(Quick());  // 1024 header bytes, 100 body bytes
  {
    // Just under the header limit, in many headers: served, the limit is not too eager.
    std::string head = "GET /healthz HTTP/1.1\r\nConnection: close\r\n";
    for (int i = 0; i < 14; ++i) head += absl::StrCat("X-H", i, ": ", std::string(60, 'v'), "\r\n");
    head += "\r\n";
    ASSERT_LE(head.size(), 1024u);
    Socket s = Connect(server->port());
    ASSERT_TRUE(SendAll(s.fd(), head));
    EXPECT_THAT(ReadUntilClosed(s.fd(), std::chrono::milliseconds(2000)),
                StartsWith("HTTP/1.1 200"));
  }
  {
    Socket s = Connect(server->port());
    ASSERT_TRUE(
        SendAll(s.fd(), "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(1100, 'x') + "\r\n\r\n"));
    EXPECT_THAT(ReadUntilClosed(s.fd(), std::chrono::milliseconds(2000)),
                StartsWith("HTTP/1.1 431"));
  }
  {
    // Headers that never end are stopped when they fill the connection's memory, well before
    // the header deadline.
    Socket s = Connect(server->port());
    ASSERT_TRUE(SendAll(s.fd(), "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(8000, 'x')));
    EXPECT_THAT(ReadUntilClosed(s.fd(), std::chrono::milliseconds(300)),
                StartsWith("HTTP/1.1 431"));
  }
  {
    // The whole body goes out before the client reads: it still sees the 413, not a reset.
    Socket s = Connect(server->port());
    ASSERT_TRUE(SendAll(
        s.fd(), "POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n" + std::string(101, 'b')));
    EXPECT_THAT(ReadUntilClosed(s.fd(), std::chrono::milliseconds(2000)),
                StartsWith("HTTP/1.1 413"));
  }
  {
    // A chunked body is accepted within the limit...
    Socket s = Connect(server->port());
    ASSERT_TRUE(SendAll(s.fd(),
                        "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                        "Connection: close\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n"));
    std::string answer = ReadUntilClosed(s.fd(), std::chrono::milliseconds(2000));
    EXPECT_THAT(answer, StartsWith("HTTP/1.1 200"));
    EXPECT_THAT(answer, EndsWith("\r\n\r\nhello"));
  }
  {
    // ... and gets 413 once it passes it, without a Content-Length to check beforehand.
    Socket s = Connect(server->port());
    std::string chunk = absl::StrCat("32\r\n", std::string(50, 'c'), "\r\n");  // 0x32 = 50
    ASSERT_TRUE(SendAll(s.fd(), "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                    chunk + chunk + chunk + "0\r\n\r\n"));
    EXPECT_THAT(ReadUntilClosed(s.fd(), std::chrono::milliseconds(2000)),
                StartsWith("HTTP/1.1 413"));
  }
  {
    // A body that stops short is closed at the body deadline, without an answer.
    Socket s = Connect(server->port());
    auto start = Clock::now();
    ASSERT_TRUE(SendAll(s.fd(), "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nshort"));
    EXPECT_EQ(ReadUntilClosed(s.fd(), std::chrono::milliseconds(2000)), "");
    EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(1000));
  }
  EXPECT_THAT(Get(server->port(), "/healthz").response, StartsWith("HTTP/1.1 200"));
}

TEST(HttpServerTest, KeepAlivePipeliningAndRouting) {
  auto server = StartServer(Quick());
  Socket s = Connect(server->port());
  ASSERT_TRUE(SendAll(s.fd(),
                      "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                      "GET /nowhere HTTP/1.1\r\n\r\n"
                      "GET /echo HTTP/1.1\r\n\r\n"
                      "GET /healthz?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n"));
  std::string all = ReadUntilClosed(s.fd(), std::chrono::milliseconds(2000));
  EXPECT_THAT(all, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(all, HasSubstr("Content-Length: 5\r\n\r\nhello"));
  EXPECT_THAT(all, HasSubstr("HTTP/1.1 404"));
  EXPECT_THAT(all, HasSubstr("HTTP/1.1 405"));
  size_t last = all.rfind("HTTP/1.1 200 OK\r\n");
  ASSERT_NE(last, std::string::npos);
  EXPECT_THAT(all.substr(last), HasSubstr("\r\nConnection: close\r\n")) << "asked for it";
  EXPECT_THAT(all, EndsWith("\r\n\r\nok\n"));
}

TEST(HttpServerTest, ExpectContinueGetsA100BeforeTheBody) {
  auto server = StartServer(Quick());
  Socket s = Connect(server->port());
  ASSERT_TRUE(SendAll(s.fd(),
                      "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                      "Connection: close\r\n\r\n"));
  char buf[64];
  ssize_t n = ::recv(s.fd(), buf, sizeof(buf), 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(SendAll(s.fd(), "hi"));
  EXPECT_THAT(ReadUntilClosed(s.fd(), std::chrono::milliseconds(2000)), HasSubstr("\r\n\r\nhi"));

  // Too large by Content-Length: 413 at once, no invitation to send the body.
  Socket big = Connect(server->port());
  ASSERT_TRUE(SendAll(big.fd(),
                      "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 101\r\n"
                      "\r\n"));
  EXPECT_THAT(ReadUntilClosed(big.fd(), std::chrono::milliseconds(2000)),
              StartsWith("HTTP/1.1 413"));
}

TEST(HttpServerTest, BlockingHandlersDoNotDelayHealthAndTheQueueIsBounded) {
  http::ServerOptions o = Quick();
  o.header_timeout = absl::Seconds(5);
  o.max_queued = 1;
  auto server = StartServer(o);
  auto post_slow = [&] {
    Socket s = Connect(server->port());
    SendAll(s.fd(), "POST /slow HTTP/1.1\r\nConnection: close\r\n\r\n");
    return s;
  };
  Socket running = post_slow();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the worker took it
  Socket queued = post_slow();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  Socket refused = post_slow();
  EXPECT_THAT(ReadUntilClosed(refused.fd(), std::chrono::milliseconds(1000)),
              StartsWith("HTTP/1.1 503"));
  Probe p = Get(server->port(), "/healthz");
  EXPECT_THAT(p.response, StartsWith("HTTP/1.1 200"));
  EXPECT_LT(p.elapsed.count(), 1000);
  EXPECT_THAT(ReadUntilClosed(running.fd(), std::chrono::milliseconds(3000)), HasSubstr("slept"));
}

TEST(HttpServerTest, ShutdownAnswersQueuedBlockingRequestsAndWaitsForTheRunningOne) {
  http::ServerOptions o = Quick();
  o.header_timeout = absl::Seconds(5);
  o.max_queued = 2;
  auto server = StartServer(o);
  auto post_slow = [&] {
    Socket s = Connect(server->port());
    SendAll(s.fd(), "POST /slow HTTP/1.1\r\nConnection: close\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return s;
  };
  Socket running = post_slow();
  Socket queued1 = post_slow();
  Socket queued2 = post_slow();
  auto start = Clock::now();
  server->Shutdown();
  EXPECT_THAT(ReadUntilClosed(queued1.fd(), std::chrono::milliseconds(1000)),
              StartsWith("HTTP/1.1 503"));
  EXPECT_THAT(ReadUntilClosed(queued2.fd(), std::chrono::milliseconds(1000)),
              StartsWith("HTTP/1.1 503"));
  server->Wait();
  EXPECT_GE(Clock::now() - start, std::chrono::milliseconds(1000)) << "waited for the worker";
  auto read_start = Clock::now();
  ReadUntilClosed(running.fd(), std::chrono::milliseconds(2000));  // its answer, or nothing
  EXPECT_LT(Clock::now() - read_start, std::chrono::milliseconds(500)) << "closed";
  EXPECT_LT(Connect(server->port()).fd(), 0) << "no longer listening";
}

}  // namespace
}  // namespace lottery::metrics
