#include "serve.h"

#include <httplib.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "simdjson.h"

namespace lottery::stakegen {
namespace {

std::string ErrorJson(const std::string& msg) {
  std::string out = R"({"error":")";
  for (char c : msg) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"}";
}

absl::Status IntField(simdjson::dom::element v, std::string_view name, int64_t max, int64_t* out) {
  int64_t x = 0;
  if (v.get_int64().get(x) != simdjson::SUCCESS || x < 1 || x > max) {
    return absl::InvalidArgumentError(absl::StrCat(absl::string_view(name.data(), name.size()),
                                                   " must be an integer in [1, ", max, "]"));
  }
  *out = x;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StakeRequest> ParseStakeRequest(std::string_view body,
                                               const StakeRequest& defaults) {
  StakeRequest r = defaults;
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return r;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(simdjson::padded_string(body)).get(doc) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("body is not valid JSON");
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(
        R"(body must be a JSON object like {"count":100,"games":10,"players":200})");
  }
  for (auto field : obj) {
    int64_t v = 0;
    if (field.key == "count") {
      if (auto st = IntField(field.value, "count", kMaxRequestCount, &v); !st.ok()) return st;
      r.count = v;
    } else if (field.key == "games") {
      if (auto st = IntField(field.value, "games", 1'000'000, &v); !st.ok()) return st;
      r.games = static_cast<int>(v);
    } else if (field.key == "players") {
      if (auto st = IntField(field.value, "players", 1'000'000, &v); !st.ok()) return st;
      r.players = static_cast<int>(v);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field '", absl::string_view(field.key.data(), field.key.size()),
                       "' (expected count, games, players)"));
    }
  }
  return r;
}

absl::StatusOr<std::unique_ptr<StakeServer>> StakeServer::Start(const std::string& listen,
                                                                Publisher* publisher,
                                                                const Options& base,
                                                                int64_t default_count,
                                                                double rate) {
  size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address must be host:port, not '", listen, "'"));
  }
  std::string host = listen.substr(0, colon);
  std::unique_ptr<StakeServer> s(new StakeServer());
  s->server_ = std::make_unique<httplib::Server>();
  StakeServer* self = s.get();
  const StakeRequest defaults{default_count, base.games, base.players};

  s->server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  s->server_->Post("/stake", [self, publisher, base, defaults, rate](const httplib::Request& req,
                                                                     httplib::Response& res) {
    auto parsed = ParseStakeRequest(req.body, defaults);
    if (!parsed.ok()) {
      res.status = 400;
      res.set_content(ErrorJson(std::string(parsed.status().message())), "application/json");
      return;
    }
    Options o = base;
    o.games = parsed->games;
    o.players = parsed->players;
    Generator gen(o, self->requests_.fetch_add(1) + 1);
    auto summary = publisher->Publish(gen, parsed->count, rate);
    if (!summary.ok()) {
      res.status = 503;
      res.set_content(ErrorJson(summary.status().ToString()), "application/json");
      return;
    }
    res.status = summary->failed == 0 ? 200 : 503;
    res.set_content(summary->ToJson() + "\n", "application/json");
  });

  if (port == 0) {
    port = s->server_->bind_to_any_port(host);
    if (port < 0) return absl::UnavailableError(absl::StrCat("cannot bind ", host));
  } else if (!s->server_->bind_to_port(host, port)) {
    return absl::UnavailableError(absl::StrCat("cannot bind ", listen));
  }
  s->port_ = port;
  s->thread_ = std::thread([self] { self->server_->listen_after_bind(); });
  // httplib's stop() is a no-op until the listen loop runs: wait for it, so Stop() always works.
  for (int i = 0; i < 500 && !s->server_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return s;
}

void StakeServer::Stop() {
  if (server_) server_->stop();
}

void StakeServer::Wait() {
  if (thread_.joinable()) thread_.join();
}

StakeServer::~StakeServer() {
  Stop();
  Wait();
}

}  // namespace lottery::stakegen
