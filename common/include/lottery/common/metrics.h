// Prometheus metrics without a dependency (Debian has no prometheus-cpp): counters, gauges and
// histograms in a registry rendered in the text exposition format 0.0.4, and the HTTP server for
// /metrics, /healthz and /readyz.
//
// Names may carry labels (`lottery_writer_consumer_lag{partition="0"}`); HELP and TYPE lines are
// written once per base name. All operations are thread-safe; Inc/Set/Observe are lock-free.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/common/http_server.h"

namespace lottery::metrics {

class Counter {
 public:
  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void Observe(double v);
  // Cumulative counts per bound (the last is +Inf), the sum and the count.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Take() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (+Inf)
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Latency buckets in seconds, from 0.5 ms to 10 s.
std::vector<double> LatencyBuckets();

class Registry {
 public:
  Counter& AddCounter(const std::string& name, const std::string& help);
  Gauge& AddGauge(const std::string& name, const std::string& help);
  Histogram& AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> upper_bounds);
  std::string Render() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Entry {
    std::string name;
    std::string help;
    Kind kind;
    Counter* counter = nullptr;
    Gauge* gauge = nullptr;
    Histogram* histogram = nullptr;
  };
  mutable std::mutex mu_;
  std::vector<Entry> entries_;
  std::deque<Counter> counters_;  // deque: stable addresses
  std::deque<Gauge> gauges_;
  std::deque<std::unique_ptr<Histogram>> histograms_;
};

// The daemons' metrics address (LOTTERY_METRICS_ADDR, --metrics-addr) follows the tree's one
// listen-address convention: "" or "off" disables the server, "host:port" or ":port" (127.0.0.1)
// binds it, anything else is a configuration error (http_server.h).
using ::lottery::http::ListenAddress;
using ::lottery::http::ParseListenAddress;

// Serves GET /metrics (the registry), /healthz (200 while the process runs) and /readyz (200 when
// ready() is true, else 503) in a background thread, on http::Server (libmicrohttpd): idle and
// slow clients cannot delay /healthz (see http_server.h for the deadlines and limits). ready()
// runs on the server's event thread and must not block.
class HttpServer {
 public:
  // `address` as ParseListenAddress reads it. kInvalidArgument when it does not parse or is
  // "off", kUnavailable when it cannot be bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& address,
                                                           const Registry* registry,
                                                           std::function<bool()> ready);
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(const ListenAddress& address,
                                                           const Registry* registry,
                                                           std::function<bool()> ready);
  ~HttpServer();
  int port() const { return port_; }

 private:
  HttpServer() = default;
  std::unique_ptr<http::Server> server_;
  int port_ = 0;
};

}  // namespace lottery::metrics
