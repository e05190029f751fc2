// http::Server on GNU libmicrohttpd (MHD). MHD owns the protocol: request parsing, keep-alive,
// pipelining, chunked bodies, Expect: 100-continue, error answers for malformed requests. This
// file maps MHD's callbacks onto the routes and adds the policy MHD 0.9.75 does not have:
// whole-phase deadlines (MHD's own timeout restarts at every byte), eviction at max_connections,
// the body limit, and a worker pool for blocking handlers.
#include "lottery/common/http_server.h"

#include <microhttpd.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lottery::http {
namespace {

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

Clock::duration ToClock(absl::Duration d) {
  return std::chrono::duration_cast<Clock::duration>(absl::ToChronoNanoseconds(d));
}

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

struct DaemonDeleter {
  void operator()(MHD_Daemon* d) const { MHD_stop_daemon(d); }
};
struct ResponseDeleter {
  void operator()(MHD_Response* r) const { MHD_destroy_response(r); }
};
using DaemonPtr = std::unique_ptr<MHD_Daemon, DaemonDeleter>;
using ResponsePtr = std::unique_ptr<MHD_Response, ResponseDeleter>;

// A closed file descriptor on scope exit (the listening socket until MHD takes it).
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

std::string ListenAddress::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::optional<ListenAddress>> ParseListenAddress(absl::string_view text) {
  if (text.empty() || text == "off") return std::nullopt;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "listen address '", text, "' ", why, " (want host:port, :port for 127.0.0.1, or off)"));
  };
  size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return bad("has no port");
  absl::string_view host = text.substr(0, colon);
  absl::string_view port_text = text.substr(colon + 1);
  int port = -1;
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
      !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return bad("has no port in [0, 65535]");
  }
  ListenAddress a;
  a.port = port;
  if (host.empty()) {
    a.host = "127.0.0.1";
  } else if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("has a bad IPv6 literal");
    absl::string_view v6 = host.substr(1, host.size() - 2);
    if (!std::all_of(v6.begin(), v6.end(), [](char c) {
          return absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.';
        })) {
      return bad("has a bad IPv6 literal");
    }
    a.host = std::string(v6);
  } else if (std::all_of(host.begin(), host.end(), IsHostChar)) {
    a.host = std::string(host);
  } else {
    return bad("has a bad host (an IPv6 address goes in brackets)");
  }
  return a;
}

absl::string_view Request::Header(absl::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

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

namespace {

Response Run(const Handler& handler, const Request& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    return Response{500, "text/plain", absl::StrCat(e.what(), "\n")};
  } catch (...) {
    return Response{500, "text/plain", "handler failed\n"};
  }
}

}  // namespace

void Server::Impl::SetPhaseLocked(MHD_Connection* c, Phase phase) {
  auto it = watches.find(c);
  if (it == watches.end()) return;
  Watch& w = it->second;
  Clock::time_point now = Clock::now();
  w.phase = phase;
  switch (phase) {
    case Phase::kIdle:
      w.ready_since = now;
      w.deadline = now + ToClock(options.header_timeout);
      break;
    case Phase::kHeaders:  // still within header_timeout from ready_since
    case Phase::kHandling:
      break;
    case Phase::kBody:
      w.deadline = now + ToClock(options.body_timeout);
      break;
    case Phase::kResponding:
      w.deadline = now + ToClock(options.write_timeout);
      break;
  }
}

// Over max_connections, shuts down the connection that has waited longest for its request, idle
// ones first. The newest connection is a candidate too, so when every other one is busy with a
// request (a worker has it, or its response is going out), the newcomer is the one refused.
void Server::Impl::EvictLocked() {
  size_t open = std::count_if(watches.begin(), watches.end(),
                              [](const auto& entry) { return !entry.second.shut; });
  for (; open > options.max_connections; --open) {
    Watch* victim = nullptr;
    auto rank = [](const Watch& w) { return std::pair(w.phase != Phase::kIdle, w.ready_since); };
    for (auto& [c, w] : watches) {
      bool waiting =
          w.phase == Phase::kIdle || w.phase == Phase::kHeaders || w.phase == Phase::kBody;
      if (w.shut || !waiting) continue;
      if (victim == nullptr || rank(w) < rank(*victim)) victim = &w;
    }
    if (victim == nullptr) return;
    ::shutdown(victim->fd, SHUT_RDWR);
    victim->shut = true;
  }
}

void Server::Impl::OnConnection(void* cls, MHD_Connection* connection, void** /*socket_context*/,
                                MHD_ConnectionNotificationCode code) {
  auto* impl = static_cast<Impl*>(cls);
  std::lock_guard<std::mutex> lock(impl->mu);
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    impl->watches.erase(connection);
    return;
  }
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  Watch& w = impl->watches[connection];
  w.fd = info == nullptr ? -1 : info->connect_fd;
  impl->SetPhaseLocked(connection, Phase::kIdle);
  impl->EvictLocked();
}

void* Server::Impl::OnRequestLine(void* cls, const char* uri, MHD_Connection* connection) {
  auto* impl = static_cast<Impl*>(cls);
  auto* x = new Exchange();  // deleted in OnCompleted, which MHD calls for every request
  x->connection = connection;
  x->request.target = uri;  // as sent: MHD calls this before it decodes anything
  x->request.path = x->request.target.substr(0, x->request.target.find('?'));
  impl->SetPhase(connection, Phase::kHeaders);
  return x;
}

void Server::Impl::OnCompleted(void* cls, MHD_Connection* connection, void** con_cls,
                               MHD_RequestTerminationCode /*toe*/) {
  delete static_cast<Exchange*>(*con_cls);
  *con_cls = nullptr;
  static_cast<Impl*>(cls)->SetPhase(connection, Phase::kIdle);  // kept alive, or closing
}

// MHD calls this once the headers are in, once per piece of body (*upload_data_size > 0), and
// once more at the end of the request (and again after a suspended connection is resumed).
MHD_Result Server::Impl::OnAccess(void* cls, MHD_Connection* /*connection*/, const char* /*url*/,
                                  const char* method, const char* version, const char* upload_data,
                                  size_t* upload_data_size, void** con_cls) {
  auto* impl = static_cast<Impl*>(cls);
  auto* x = static_cast<Exchange*>(*con_cls);
  if (x == nullptr) return MHD_NO;  // no request line seen: cannot happen, close
  if (!x->headers_seen) {
    x->headers_seen = true;
    return impl->OnHeaders(*x, method, version);
  }
  if (*upload_data_size > 0) {
    size_t size = *upload_data_size;
    *upload_data_size = 0;
    return impl->OnBody(*x, upload_data, size);
  }
  return impl->OnRequestEnd(*x);
}

MHD_Result Server::Impl::OnHeaders(Exchange& x, const char* method, const char* version) {
  Request& r = x.request;
  r.method = method;
  // The head's size as sent, give or take whitespace: "METHOD target VERSION\r\n", then
  // "name: value\r\n" per header, then "\r\n".
  struct Collect {
    Request* request;
    size_t head_bytes;
  } collect{&r, r.method.size() + 1 + r.target.size() + 1 + std::strlen(version) + 2 + 2};
  MHD_get_connection_values_n(
      x.connection, MHD_HEADER_KIND,
      [](void* cls, MHD_ValueKind, const char* key, size_t key_size, const char* value,
         size_t value_size) {
        auto* c = static_cast<Collect*>(cls);
        c->head_bytes += key_size + 2 + value_size + 2;
        c->request->headers.emplace_back(absl::AsciiStrToLower(absl::string_view(key, key_size)),
                                         std::string(value == nullptr ? "" : value, value_size));
        return MHD_YES;
      },
      &collect);
  if (collect.head_bytes > options.max_header_bytes) {
    return Reply(x, Response{431, "text/plain", "request headers too large\n"}, /*close=*/true);
  }
  // MHD has checked Content-Length's syntax, and ignores it when Transfer-Encoding is present.
  uint64_t length = 0;
  if (r.Header("transfer-encoding").empty() &&
      absl::SimpleAtoi(r.Header("content-length"), &length) && length > options.max_body_bytes) {
    x.too_large = true;
    // Answered now, MHD does not read the body. A client waiting for "100 Continue" sends none;
    // one that sends anyway is read for at most kMaxDropBytes first.
    if (length > kMaxDropBytes || absl::EqualsIgnoreCase(r.Header("expect"), "100-continue")) {
      return Reply(x, TooLarge(), /*close=*/true);
    }
  }
  SetPhase(x.connection, Phase::kBody);
  return MHD_YES;
}

MHD_Result Server::Impl::OnBody(Exchange& x, const char* data, size_t size) {
  std::string& body = x.request.body;
  if (!x.too_large && size > options.max_body_bytes - body.size()) {
    x.too_large = true;
    x.dropped = body.size();
    std::string().swap(body);
  }
  if (!x.too_large) {
    body.append(data, size);
    return MHD_YES;
  }
  x.dropped += size;
  return x.dropped > kMaxDropBytes ? MHD_NO : MHD_YES;  // MHD_NO: close without an answer
}

MHD_Result Server::Impl::OnRequestEnd(Exchange& x) {
  if (x.response.has_value()) return Reply(x, *x.response, /*close=*/false);
  if (x.too_large) return Reply(x, TooLarge(), /*close=*/true);
  const Route* route = nullptr;
  bool path_known = false;
  for (const Route& r : routes) {
    if (r.path != x.request.path) continue;
    path_known = true;
    if (r.method == x.request.method) route = &r;
  }
  if (route == nullptr) {
    return Reply(x,
                 Response{path_known ? 405 : 404, "text/plain",
                          path_known ? "method not allowed\n" : "not found\n"},
                 /*close=*/false);
  }
  if (!route->blocking) return Reply(x, Run(route->handler, x.request), /*close=*/false);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!stopping && jobs.size() < options.max_queued) {
      x.route = route;
      // Suspended before a worker can see it: MHD must not resume a connection it never
      // suspended. MHD never calls back into this file while holding its own lock.
      MHD_suspend_connection(x.connection);
      jobs.push_back(&x);
      SetPhaseLocked(x.connection, Phase::kHandling);
      jobs_cv.notify_one();
      return MHD_YES;
    }
  }
  return Reply(x, Response{503, "text/plain", "busy: too many queued requests\n"}, /*close=*/true);
}

MHD_Result Server::Impl::Reply(Exchange& x, const Response& r, bool close) {
  ResponsePtr response(MHD_create_response_from_buffer(
      r.body.size(), const_cast<char*>(r.body.data()), MHD_RESPMEM_MUST_COPY));
  if (response == nullptr ||
      MHD_add_response_header(response.get(), MHD_HTTP_HEADER_CONTENT_TYPE,
                              r.content_type.c_str()) != MHD_YES ||
      (close &&
       MHD_add_response_header(response.get(), MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
    return MHD_NO;
  }
  SetPhase(x.connection, Phase::kResponding);
  return MHD_queue_response(x.connection, static_cast<unsigned int>(r.status), response.get());
}

void Server::Impl::Worker() {
  for (;;) {
    Exchange* x = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu);
      jobs_cv.wait(lock, [this] { return stopping || !jobs.empty(); });
      if (jobs.empty()) return;
      x = jobs.front();
      jobs.pop_front();
    }
    x->response = Run(x->route->handler, x->request);
    MHD_resume_connection(x->connection);  // MHD calls OnAccess again, which sends the response
  }
}

void Server::Impl::Housekeep() {
  std::unique_lock<std::mutex> lock(mu);
  while (!stop_requested) {
    stop_cv.wait_for(lock, kDeadlineTick);
    Clock::time_point now = Clock::now();
    for (auto& [c, w] : watches) {
      if (w.shut || w.phase == Phase::kHandling || now < w.deadline) continue;
      ::shutdown(w.fd, SHUT_RDWR);  // MHD reads EOF (or fails to write) and closes it
      w.shut = true;
    }
  }
  // MHD_stop_daemon must not find a suspended connection: resume the queued ones with a 503
  // and let the workers finish (and resume) theirs first.
  stopping = true;
  std::deque<Exchange*> dropped;
  dropped.swap(jobs);
  lock.unlock();
  jobs_cv.notify_all();
  for (Exchange* x : dropped) {
    x->response = Response{503, "text/plain", "shutting down\n"};
    MHD_resume_connection(x->connection);
  }
  for (std::thread& w : workers) w.join();
  daemon.reset();  // closes every connection; MHD's callbacks still take `mu`
  lock.lock();
  finished = true;
  finished_cv.notify_all();
}

Server::Server(const ServerOptions& options) : impl_(std::make_unique<Impl>(options)) {}

Server::~Server() {
  Shutdown();
  Wait();
  if (impl_->housekeeper.joinable()) impl_->housekeeper.join();
}

void Server::Handle(std::string method, std::string path, Handler handler) {
  impl_->routes.push_back({std::move(method), std::move(path), std::move(handler), false});
}

void Server::HandleBlocking(std::string method, std::string path, Handler handler) {
  impl_->routes.push_back({std::move(method), std::move(path), std::move(handler), true});
}

absl::Status Server::Start(const ListenAddress& address) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string port_text = std::to_string(address.port);
  if (int rc = ::getaddrinfo(address.host.c_str(), port_text.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", address.ToString(), ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  Fd listen_fd;
  bool ipv6 = false;
  std::string error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0));
    if (fd.get() < 0) {
      error = std::strerror(errno);
      continue;
    }
    int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd.get(), SOMAXCONN) != 0) {
      error = std::strerror(errno);
      continue;
    }
    listen_fd = std::move(fd);
    ipv6 = ai->ai_family == AF_INET6;
    break;
  }
  if (listen_fd.get() < 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", address.ToString(), ": ", error));
  }

  Impl* impl = impl_.get();
  const ServerOptions& o = impl->options;
  // MHD's own timeout restarts at every byte; it is only a backstop behind the deadlines.
  absl::Duration longest = std::max({o.header_timeout, o.body_timeout, o.write_timeout});
  auto backstop_seconds = static_cast<unsigned int>(
      std::clamp<int64_t>(absl::ToInt64Seconds(absl::Ceil(longest, absl::Seconds(1))), 1, 86400));
  auto connection_limit =
      static_cast<unsigned int>(std::min<size_t>(o.max_connections + kEvictionHeadroom, UINT_MAX));
  size_t pool_bytes = o.max_header_bytes + kPoolSlackBytes;
  unsigned int flags =
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | (ipv6 ? MHD_USE_IPv6 : 0);
  // From here MHD owns the socket (it closes it, on failure too).
  impl->daemon.reset(MHD_start_daemon(                          //
      flags, 0, nullptr, nullptr, &Impl::OnAccess, impl,        //
      MHD_OPTION_LISTEN_SOCKET, listen_fd.release(),            //
      MHD_OPTION_CONNECTION_LIMIT, connection_limit,            //
      MHD_OPTION_CONNECTION_TIMEOUT, backstop_seconds,          //
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool_bytes,           //
      MHD_OPTION_URI_LOG_CALLBACK, &Impl::OnRequestLine, impl,  //
      MHD_OPTION_NOTIFY_COMPLETED, &Impl::OnCompleted, impl,    //
      MHD_OPTION_NOTIFY_CONNECTION, &Impl::OnConnection, impl,  //
      MHD_OPTION_END));
  if (impl->daemon == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("libmicrohttpd could not serve on ", address.ToString()));
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(impl->daemon.get(), MHD_DAEMON_INFO_BIND_PORT);
  port_ = info == nullptr ? 0 : info->port;
  bool any_blocking = std::any_of(impl->routes.begin(), impl->routes.end(),
                                  [](const Impl::Route& r) { return r.blocking; });
  for (int i = 0; any_blocking && i < std::max(1, o.worker_threads); ++i)
    impl->workers.emplace_back([impl] { impl->Worker(); });
  impl->housekeeper = std::thread([impl] { impl->Housekeep(); });
  return absl::OkStatus();
}

void Server::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop_requested = true;
  }
  impl_->stop_cv.notify_all();
}

void Server::Wait() {
  if (!impl_->housekeeper.joinable()) return;  // never started
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->finished_cv.wait(lock, [this] { return impl_->finished; });
}

}  // namespace lottery::http
