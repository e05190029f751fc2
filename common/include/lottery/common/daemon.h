// What both daemons share around their run loop: the stop signals, the metrics and health
// server, and the backoff between attempts. Each daemon's main.cc is a thin shell over these and
// its library; the libraries take the stop flag as a parameter and hold no process globals.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lottery/common/metrics.h"

namespace lottery::daemon {

// Installs SIGTERM and SIGINT handlers that set the returned flag. A signal handler can only
// reach process-wide state, so the flag lives here, once per process; call this from main (or a
// command's entry point) and hand the flag to the library.
const std::atomic<bool>& InstallStopSignals();

// Starts the /metrics, /healthz and /readyz server on `address` (ParseListenAddress's forms);
// "" or "off" starts none (nullptr). kInvalidArgument when it does not parse, kUnavailable when
// it cannot be bound: both are configuration errors for the caller (exit 2).
absl::StatusOr<std::unique_ptr<metrics::HttpServer>> StartMetricsServer(
    const std::string& address, const metrics::Registry* registry, std::function<bool()> ready);

// Exponential backoff with jitter: Next() returns a delay in [current/2, current), and doubles
// current up to `cap`. Reset() after an attempt that made progress. The jitter keeps several
// instances that lost the same server from retrying in step.
class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration cap, uint64_t seed)
      : initial_(initial), cap_(cap), current_(initial), state_(seed | 1) {}
  absl::Duration Next();
  void Reset() { current_ = initial_; }

 private:
  absl::Duration initial_, cap_, current_;
  uint64_t state_;
};

}  // namespace lottery::daemon
