// `lottery-stakegen serve`: the original service's test endpoint. POST /stake publishes a batch
// of test stakes and answers with the JSON summary of that batch.
//
//   POST /stake   body: empty, or {"count":N,"games":G,"players":P} (each optional, integers >= 1)
//                 200 + Summary JSON; 400 + {"error":"..."} for a bad body; 413 for a body over
//                 kMaxRequestBodyBytes; 503 when Kafka fails or kMaxQueuedRequests already wait.
//   GET  /healthz 200 "ok" while the process runs, answered by the server's event thread: neither a
//                 running publish nor idle or slow clients delay it (lottery/common/http_server.h
//                 has the header, body and write deadlines).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lottery/common/http_server.h"
#include "producer.h"
#include "stakegen.h"

namespace lottery::stakegen {

inline constexpr int64_t kMaxRequestCount = 1'000'000;
inline constexpr size_t kMaxRequestBodyBytes = 1024 * 1024;
inline constexpr size_t kMaxQueuedRequests = 16;  // POSTs waiting for the (serialised) publisher

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
  // Binds `listen` (http::ParseListenAddress: "host:port", ":port" for 127.0.0.1; port 0 picks
  // a free one) and serves in a background thread.
  // Each request uses `base` with the request's games/players and a fresh generator stream, so
  // pools stay stable across requests while the stake sequences differ. kUnavailable when the
  // address cannot be bound, kInvalidArgument when it does not parse or is "off".
  static absl::StatusOr<std::unique_ptr<StakeServer>> Start(const std::string& listen,
                                                            Publisher* publisher,
                                                            const Options& base,
                                                            int64_t default_count, double rate);
  ~StakeServer();  // stops the server

  int port() const { return address_.port; }
  const http::ListenAddress& address() const { return address_; }  // with the bound port
  // Blocks until Stop() (from another thread or a signal handler's watcher).
  void Wait();
  void Stop();

 private:
  StakeServer() = default;

  std::unique_ptr<http::Server> server_;
  http::ListenAddress address_;
  std::atomic<uint64_t> requests_{0};
};

}  // namespace lottery::stakegen
