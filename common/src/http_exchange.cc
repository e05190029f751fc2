// MHD's callbacks for http::Server: one request from its request line to its response, the
// phase a connection is in (for its deadline), eviction at max_connections and the body limit.
// MHD owns the protocol (parsing, keep-alive, pipelining, chunked bodies, 100-continue); this file
// maps its callbacks onto the routes.
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "http_server_impl.h"

namespace lottery::http {

Response RunHandler(const Handler& handler, const Request& request) {
  try {
    return handler(request);
  } catch (const std::exception& e) {
    return Response{500, "text/plain", absl::StrCat(e.what(), "\n")};
  } catch (...) {
    return Response{500, "text/plain", "handler failed\n"};
  }
}

absl::string_view Request::Header(absl::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return {};
}

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
  if (!route->blocking) return Reply(x, RunHandler(route->handler, x.request), /*close=*/false);
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

}  // namespace lottery::http
