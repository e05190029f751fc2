#include "lottery/common/daemon.h"

#include <csignal>

#include "spdlog/spdlog.h"

namespace lottery::daemon {

namespace {
std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }
}  // namespace

const std::atomic<bool>& InstallStopSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return g_stop;
}

absl::StatusOr<std::unique_ptr<metrics::HttpServer>> StartMetricsServer(
    const std::string& address, const metrics::Registry* registry, std::function<bool()> ready) {
  if (address.empty() || address == "off") return nullptr;
  absl::StatusOr<std::unique_ptr<metrics::HttpServer>> server =
      metrics::HttpServer::Start(address, registry, std::move(ready));
  if (server.ok()) spdlog::info("metrics on http://{}/metrics", address);
  return server;
}

absl::Duration Backoff::Next() {
  // xorshift64*: jitter needs no quality, only independence between instances.
  state_ ^= state_ >> 12;
  state_ ^= state_ << 25;
  state_ ^= state_ >> 27;
  uint64_t r = state_ * 0x2545F4914F6CDD1DULL;
  double fraction = static_cast<double>(r >> 11) / static_cast<double>(1ULL << 53);
  absl::Duration d = current_ * (0.5 + fraction / 2);  // in [current/2, current)
  current_ = std::min(current_ * 2, cap_);
  return d;
}

}  // namespace lottery::daemon
