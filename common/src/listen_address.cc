// ListenAddress: the health/metrics listen flag ("host:port", ":port" for 127.0.0.1, or "off").
#include <algorithm>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lottery/common/http_server.h"

namespace lottery::http {
namespace {

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

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

}  // namespace lottery::http
