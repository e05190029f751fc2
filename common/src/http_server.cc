// http::Server on GNU libmicrohttpd (MHD): binding, start and orderly stop, the worker pool for
// blocking handlers, and the deadline thread. MHD's own timeout restarts at every byte, so this
// server adds whole-phase deadlines; the per-request callbacks are in http_exchange.cc.
#include "lottery/common/http_server.h"

#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "http_server_impl.h"

namespace lottery::http {
namespace {

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
    x->response = RunHandler(x->route->handler, x->request);
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
