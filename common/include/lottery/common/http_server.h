// A small HTTP/1.1 server for health, metrics and test endpoints, on GNU libmicrohttpd (MHD): its
// one event thread owns every connection and the protocol (parsing, keep-alive, pipelining,
// chunked bodies, 100 Continue, 400/505 for malformed requests), so idle or slow clients cost a
// file descriptor and a small memory pool, never a thread.
//
// Contract (what a client can rely on, and what it cannot do to others):
//   - Each connection gets `header_timeout` from the moment it is ready for a request (accepted,
//     or the previous response sent) to the end of the request's headers, however slowly the
//     bytes trickle in. The body must then arrive within `body_timeout`, the response be taken
//     within `write_timeout`. A connection past its deadline is closed without an answer (no
//     408); deadlines are checked every 50 ms.
//   - A request line and headers over `max_header_bytes` get 431. Headers that never end get 431
//     (414 if the request line alone is too long) once they fill the connection's memory,
//     max_header_bytes + 2 KiB, which also holds MHD's index of the headers (many tiny headers
//     can therefore hit 431 a little below the limit).
//   - A body over `max_body_bytes` gets 413, and the connection is closed. The 413 comes before
//     the body is read when Content-Length says so and the client waits for 100 Continue or
//     declares over 16 MiB; otherwise the body is read and dropped first (chunked bodies too),
//     so a client that sends before it reads still sees the status. Past 16 MiB dropped, the
//     connection is closed without an answer. Chunked bodies within the limit are accepted.
//   - At `max_connections`, a new connection evicts the connection that has waited longest for
//     a request (idle ones first), so a new client (a health probe) is always served; when every
//     connection is busy with a request (a worker has it, or its response is going out), the
//     new one is closed instead.
//   - Handlers added with Handle run on the event thread and must not block (render a string,
//     read an atomic). Handlers added with HandleBlocking run on `worker_threads` workers while
//     MHD suspends their connection; when `max_queued` requests already wait, a request gets 503.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace lottery::http {

struct ListenAddress {
  std::string host;              // a name or an IP literal, without brackets for IPv6
  int port = 0;                  // 0: the kernel picks a free port
  std::string ToString() const;  // "host:port", "[::1]:port"
};

// The one convention for every listen address of this tree (LOTTERY_METRICS_ADDR, --metrics-addr,
// `lottery-stakegen serve --listen`):
//   "" or "off"        -> std::nullopt (no server)
//   "host:port"        -> that host ("[v6]:port" for an IPv6 literal), port in [0, 65535]
//   ":port"            -> 127.0.0.1:port (loopback: binding every interface must be spelled
//                         out, as 0.0.0.0:port)
// Anything else (no port, a bad port, spaces, an unbracketed IPv6 address) is kInvalidArgument.
absl::StatusOr<std::optional<ListenAddress>> ParseListenAddress(absl::string_view text);

struct Request {
  std::string method;
  std::string target;                                        // as sent: "/stake?x=1"
  std::string path;                                          // the target up to '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  // The first header of that (lower-case) name, or "".
  absl::string_view Header(absl::string_view lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
  absl::Duration header_timeout = absl::Seconds(5);
  absl::Duration body_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
  size_t max_header_bytes = 16 * 1024;
  size_t max_body_bytes = 64 * 1024;
  size_t max_connections = 512;
  int worker_threads = 1;  // for HandleBlocking routes only
  size_t max_queued = 16;
};

class Server {
 public:
  explicit Server(const ServerOptions& options = {});
  ~Server();  // Shutdown() and Wait()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Routes, before Start. An unknown path is 404, a known path with another method 405.
  void Handle(std::string method, std::string path, Handler handler);
  void HandleBlocking(std::string method, std::string path, Handler handler);

  // Binds `address` and serves in a background thread. kUnavailable when it cannot bind.
  absl::Status Start(const ListenAddress& address);
  int port() const { return port_; }

  // Asks the server to stop (thread-safe, returns at once): blocking requests still queued get
  // 503; once the workers finished their requests, every connection is closed (an answer not yet
  // sent is lost). Wait() blocks until then.
  void Shutdown();
  void Wait();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace lottery::http
