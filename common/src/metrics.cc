#include "lottery/common/metrics.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lottery::metrics {
namespace {

std::string FormatDouble(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  return absl::StrFormat("%.17g", v);
}

std::string BaseName(const std::string& name) { return name.substr(0, name.find('{')); }

// Adds a label to a possibly labelled name: ("x{a=\"1\"}", "le", "0.5") ->
// x_bucket{a="1",le="0.5"}.
std::string WithSuffixAndLabel(const std::string& name, const std::string& suffix,
                               const std::string& label) {
  size_t brace = name.find('{');
  std::string base = name.substr(0, brace);
  std::string labels =
      brace == std::string::npos ? "" : name.substr(brace + 1, name.size() - brace - 2);
  if (!label.empty()) labels = labels.empty() ? label : absl::StrCat(labels, ",", label);
  return labels.empty() ? absl::StrCat(base, suffix) : absl::StrCat(base, suffix, "{", labels, "}");
}

template <typename T>
void AtomicAdd(std::atomic<T>& a, T d) {
  T cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + d, std::memory_order_relaxed)) {
  }
}

}  // namespace

void Gauge::Add(double d) { AtomicAdd(value_, d); }

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  s.count = running;
  return s;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  Counter& c = counters_.emplace_back();
  entries_.push_back({name, help, Kind::kCounter, &c, nullptr, nullptr});
  return c;
}

Gauge& Registry::AddGauge(const std::string& name, const std::string& help) {
  std::lock_guard<std::mutex> lock(mu_);
  Gauge& g = gauges_.emplace_back();
  entries_.push_back({name, help, Kind::kGauge, nullptr, &g, nullptr});
  return g;
}

Histogram& Registry::AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> upper_bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Histogram& h = *histograms_.emplace_back(std::make_unique<Histogram>(std::move(upper_bounds)));
  entries_.push_back({name, help, Kind::kHistogram, nullptr, nullptr, &h});
  return h;
}

std::string Registry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  std::set<std::string> described;
  for (const Entry& e : entries_) {
    std::string base = BaseName(e.name);
    if (described.insert(base).second) {
      const char* type = e.kind == Kind::kCounter ? "counter"
                         : e.kind == Kind::kGauge ? "gauge"
                                                  : "histogram";
      absl::StrAppend(&out, "# HELP ", base, " ", e.help, "\n# TYPE ", base, " ", type, "\n");
    }
    switch (e.kind) {
      case Kind::kCounter:
        absl::StrAppend(&out, e.name, " ", e.counter->Value(), "\n");
        break;
      case Kind::kGauge:
        absl::StrAppend(&out, e.name, " ", FormatDouble(e.gauge->Value()), "\n");
        break;
      case Kind::kHistogram: {
        Histogram::Snapshot s = e.histogram->Take();
        for (size_t i = 0; i <= s.bounds.size(); ++i) {
          std::string le = i < s.bounds.size() ? FormatDouble(s.bounds[i]) : "+Inf";
          absl::StrAppend(&out,
                          WithSuffixAndLabel(e.name, "_bucket", absl::StrCat("le=\"", le, "\"")),
                          " ", s.cumulative[i], "\n");
        }
        absl::StrAppend(&out, WithSuffixAndLabel(e.name, "_sum", ""), " ", FormatDouble(s.sum),
                        "\n");
        absl::StrAppend(&out, WithSuffixAndLabel(e.name, "_count", ""), " ", s.count, "\n");
        break;
      }
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const std::string& address,
                                                              const Registry* registry,
                                                              std::function<bool()> ready) {
  auto parsed = ParseListenAddress(address);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics address '", address, "' disables the server: nothing to start"));
  }
  return Start(**parsed, registry, std::move(ready));
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const ListenAddress& address,
                                                              const Registry* registry,
                                                              std::function<bool()> ready) {
  http::ServerOptions options;
  options.max_body_bytes = 0;  // GET only
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->server_ = std::make_unique<http::Server>(options);
  s->server_->Handle("GET", "/metrics", [registry](const http::Request&) {
    return http::Response{200, "text/plain; version=0.0.4", registry->Render()};
  });
  s->server_->Handle("GET", "/healthz", [](const http::Request&) {
    return http::Response{200, "text/plain", "ok\n"};
  });
  s->server_->Handle("GET", "/readyz", [ready = std::move(ready)](const http::Request&) {
    bool ok = ready ? ready() : true;
    return http::Response{ok ? 200 : 503, "text/plain", ok ? "ready\n" : "not ready\n"};
  });
  if (absl::Status st = s->server_->Start(address); !st.ok()) return st;
  s->port_ = s->server_->port();
  return s;
}

HttpServer::~HttpServer() = default;  // http::Server stops and joins

}  // namespace lottery::metrics
