// The state behind http::Server, shared by http_server.cc (start, stop, the worker pool and the
// deadline thread) and http_exchange.cc (MHD's callbacks: one request from its request line to
// its response). Private to lottery_common: no public header includes it.
#pragma once

#include <microhttpd.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lottery/common/http_server.h"

namespace lottery::http {

using Clock = std::chrono::steady_clock;

// A connection's MHD memory pool is max_header_bytes plus this: MHD keeps its index of the
// headers (about 64 bytes each) and the response's status line and headers there too.
constexpr size_t kPoolSlackBytes = 2 * 1024;
// A body over the limit is read and dropped for up to this many bytes, then answered 413, so a
// client that sends its whole body before it reads sees the status rather than a reset.
constexpr uint64_t kMaxDropBytes = 16 * 1024 * 1024;
// MHD may hold this many connections beyond max_connections: evicted ones, until it closes them.
constexpr size_t kEvictionHeadroom = 64;
// Deadlines are checked this often, so they hold to within this.
constexpr auto kDeadlineTick = std::chrono::milliseconds(50);

inline Clock::duration ToClock(absl::Duration d) {
  return std::chrono::duration_cast<Clock::duration>(absl::ToChronoNanoseconds(d));
}

struct DaemonDeleter {
  void operator()(MHD_Daemon* d) const { MHD_stop_daemon(d); }
};
struct ResponseDeleter {
  void operator()(MHD_Response* r) const { MHD_destroy_response(r); }
};
using DaemonPtr = std::unique_ptr<MHD_Daemon, DaemonDeleter>;
using ResponsePtr = std::unique_ptr<MHD_Response, ResponseDeleter>;

// The handler's response, or a 500 if it throws.
Response RunHandler(const Handler& handler, const Request& request);

struct Server::Impl {
  struct Route {
    std::string method;
    std::string path;
    Handler handler;
    bool blocking;
  };
  // One request, from its request line (MHD's URI callback) to MHD's completion notice.
  struct Exchange {
    MHD_Connection* connection = nullptr;
    Request request;
    bool headers_seen = false;
    bool too_large = false;  // the body passed max_body_bytes: it is dropped, the answer is 413
    uint64_t dropped = 0;    // body bytes dropped
    const Route* route = nullptr;
    std::optional<Response> response;  // a worker's answer, set before it resumes the connection
  };
  // Where a connection is, for its deadline and for eviction.
  enum class Phase {
    kIdle,        // waiting for a request line: accepted, or the previous response sent
    kHeaders,     // request line in, headers coming
    kBody,        // headers in, body coming (or an inline handler running)
    kHandling,    // a worker has the request: no deadline
    kResponding,  // the response is queued
  };
  struct Watch {
    int fd = -1;
    Phase phase = Phase::kIdle;
    Clock::time_point ready_since;  // when it became ready for this request
    Clock::time_point deadline;
    bool shut = false;  // its socket was shut down here; MHD closes it and says so
  };

  explicit Impl(const ServerOptions& o) : options(o) {}

  ServerOptions options;
  std::vector<Route> routes;
  DaemonPtr daemon;
  std::thread housekeeper;  // deadlines, then the orderly stop
  std::vector<std::thread> workers;

  std::mutex mu;  // guards everything below
  std::condition_variable stop_cv;
  std::condition_variable jobs_cv;
  std::condition_variable finished_cv;
  // Keyed by MHD's handle; an entry lives from MHD's "started" to its "closed" notice, and MHD
  // closes the socket only after "closed", so shutting down `fd` under `mu` is always safe.
  std::unordered_map<MHD_Connection*, Watch> watches;
  std::deque<Exchange*> jobs;  // their connections are suspended
  bool stop_requested = false;
  bool stopping = false;  // no more jobs: workers finish theirs and exit
  bool finished = false;

  // MHD's callbacks (cls is the Impl), all on MHD's event thread.
  static MHD_Result OnAccess(void* cls, MHD_Connection* connection, const char* url,
                             const char* method, const char* version, const char* upload_data,
                             size_t* upload_data_size, void** con_cls);
  static void* OnRequestLine(void* cls, const char* uri, MHD_Connection* connection);
  static void OnCompleted(void* cls, MHD_Connection* connection, void** con_cls,
                          MHD_RequestTerminationCode toe);
  static void OnConnection(void* cls, MHD_Connection* connection, void** socket_context,
                           MHD_ConnectionNotificationCode code);

  MHD_Result OnHeaders(Exchange& x, const char* method, const char* version);
  MHD_Result OnBody(Exchange& x, const char* data, size_t size);
  MHD_Result OnRequestEnd(Exchange& x);
  MHD_Result Reply(Exchange& x, const Response& r, bool close);
  Response TooLarge() const {
    return Response{413, "text/plain",
                    absl::StrCat("request body over ", options.max_body_bytes, " bytes\n")};
  }

  void SetPhase(MHD_Connection* c, Phase phase) {
    std::lock_guard<std::mutex> lock(mu);
    SetPhaseLocked(c, phase);
  }
  void SetPhaseLocked(MHD_Connection* c, Phase phase);
  void EvictLocked();
  void Housekeep();
  void Worker();
};

}  // namespace lottery::http
