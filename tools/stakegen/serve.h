// `lottery-stakegen serve`: the original service's test endpoint. POST /stake publishes a batch
// of test stakes and answers with the JSON summary of that batch.
//
//   POST /stake   body: empty, or {"count":N,"games":G,"players":P} (each optional, integers >= 1)
//                 200 + Summary JSON; 400 + {"error":"..."} for a bad body; 503 when Kafka fails.
//   GET  /healthz 200 "ok" while the process runs.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/statusor.h"
#include "producer.h"
#include "stakegen.h"

namespace httplib {
class Server;
}

namespace lottery::stakegen {

inline constexpr int64_t kMaxRequestCount = 1'000'000;

struct StakeRequest {
  int64_t count = 0;
  int games = 0;
  int players = 0;
};

// Parses a POST /stake body; absent fields take the defaults. kInvalidArgument (the message is
// the 400 answer's reason) for non-JSON, a non-object, an unknown field, or a value that is not
// an integer in range (count in [1, kMaxRequestCount], games/players in [1, 1000000]).
absl::StatusOr<StakeRequest> ParseStakeRequest(std::string_view body, const StakeRequest& defaults);

class StakeServer {
 public:
  // Binds `listen` ("host:port"; port 0 picks a free one) and serves in a background thread.
  // Each request uses `base` with the request's games/players and a fresh generator stream, so
  // pools stay stable across requests while the stake sequences differ. kUnavailable when the
  // address cannot be bound, kInvalidArgument when it does not parse.
  static absl::StatusOr<std::unique_ptr<StakeServer>> Start(const std::string& listen,
                                                            Publisher* publisher,
                                                            const Options& base,
                                                            int64_t default_count, double rate);
  ~StakeServer();  // stops the server

  int port() const { return port_; }
  // Blocks until Stop() (from another thread or a signal handler's watcher).
  void Wait();
  void Stop();

 private:
  StakeServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<uint64_t> requests_{0};
};

}  // namespace lottery::stakegen
