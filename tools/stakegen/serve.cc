#include "serve.h"

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
  auto address = http::ParseListenAddress(listen);
  if (!address.ok()) return address.status();
  if (!address->has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("listen address '", listen, "' is off"));
  }
  http::ServerOptions options;
  options.max_body_bytes = kMaxRequestBodyBytes;
  options.max_queued = kMaxQueuedRequests;
  options.worker_threads = 1;  // Publisher::Publish runs one call at a time anyway
  std::unique_ptr<StakeServer> s(new StakeServer());
  s->server_ = std::make_unique<http::Server>(options);
  StakeServer* self = s.get();
  const StakeRequest defaults{default_count, base.games, base.players};

  s->server_->Handle("GET", "/healthz", [](const http::Request&) {
    return http::Response{200, "text/plain", "ok\n"};
  });
  s->server_->HandleBlocking(
      "POST", "/stake", [self, publisher, base, defaults, rate](const http::Request& req) {
        auto parsed = ParseStakeRequest(req.body, defaults);
        if (!parsed.ok()) {
          return http::Response{400, "application/json",
                                ErrorJson(std::string(parsed.status().message()))};
        }
        Options o = base;
        o.games = parsed->games;
        o.players = parsed->players;
        Generator gen(o, self->requests_.fetch_add(1) + 1);
        auto summary = publisher->Publish(gen, parsed->count, rate);
        if (!summary.ok()) {
          return http::Response{503, "application/json", ErrorJson(summary.status().ToString())};
        }
        return http::Response{summary->failed == 0 ? 200 : 503, "application/json",
                              summary->ToJson() + "\n"};
      });
  if (absl::Status st = s->server_->Start(**address); !st.ok()) return st;
  s->address_ = **address;
  s->address_.port = s->server_->port();
  return s;
}

void StakeServer::Stop() {
  if (server_) server_->Shutdown();
}

void StakeServer::Wait() {
  if (server_) server_->Wait();
}

StakeServer::~StakeServer() = default;  // http::Server shuts down and joins

}  // namespace lottery::stakegen
