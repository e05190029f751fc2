// Test clients that misbehave the way real ones do: idle TCP connections, slow-header clients
// (a request line, then one header byte per second), and a timed GET on a fresh connection. For
// proving that a server's health endpoint stays prompt under them. Plain sockets on 127.0.0.1.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace lottery::testing {

using HostileClock = std::chrono::steady_clock;

class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  Socket(Socket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Socket& operator=(Socket&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// A blocking TCP connection to 127.0.0.1:port (-1 on failure).
inline Socket Connect(int port) {
  Socket s(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s.fd(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return Socket();
  return s;
}

inline bool SendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the peer closes or `timeout` passes.
inline std::string ReadUntilClosed(int fd, std::chrono::milliseconds timeout) {
  std::string out;
  auto deadline = HostileClock::now() + timeout;
  while (HostileClock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - HostileClock::now());
    if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) <= 0) continue;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

struct Probe {
  std::string response;
  std::chrono::milliseconds elapsed{0};
};

// GET `path` on a fresh connection (Connection: close), giving up after 3 s.
inline Probe Get(int port, const std::string& path) {
  auto start = HostileClock::now();
  Probe p;
  Socket s = Connect(port);
  if (s.fd() >= 0 &&
      SendAll(s.fd(), "GET " + path + " HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")) {
    p.response = ReadUntilClosed(s.fd(), std::chrono::milliseconds(3000));
  }
  p.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(HostileClock::now() - start);
  return p;
}

// Clients that send a request line, then one header byte per second until stopped.
class SlowHeaderClients {
 public:
  SlowHeaderClients(int port, int n) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, port] {
        Socket s = Connect(port);
        if (s.fd() < 0 || !SendAll(s.fd(), "GET /healthz HTTP/1.1\r\nX-Slow: ")) return;
        while (!stop_.load()) {
          if (!SendAll(s.fd(), "a")) return;  // the server may close a slow client: fine
          for (int t = 0; t < 10 && !stop_.load(); ++t)
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
      });
    }
  }
  ~SlowHeaderClients() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace lottery::testing
