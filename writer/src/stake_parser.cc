#include "lottery/writer/stake_parser.h"

#include <openssl/evp.h>
#include <simdjson.h>

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lottery/v1/stake.pb.h"

namespace lottery::writer {
namespace {

using lottery::domain::Uuid;

constexpr Uuid kNilUuid{};

// The fields of a stake, whatever the wire form; nullopt = missing, `*_is_string` = false when
// present with another JSON type.
struct Fields {
  std::string_view event_type;
  std::string_view player_id;
  std::string_view game_id;
  std::string_view stake;
};

Rejection Reject(std::string reason, std::string_view event_id) {
  return Rejection{std::move(reason), Sanitize(event_id, 80)};
}

// Validates one uuid field: canonical 8-4-4-4-12 hex (either case), not nil.
std::optional<std::string> CheckUuid(std::string_view field, std::string_view text, Uuid& out) {
  auto parsed = lottery::domain::ParseUuid(text);
  if (!parsed.ok()) {
    return absl::StrCat(std::string(field), ": ", std::string(parsed.status().message()));
  }
  if (*parsed == kNilUuid) return absl::StrCat(std::string(field), ": nil UUID");
  out = *parsed;
  return std::nullopt;
}

// Whitespace and invisible format characters other than ASCII's, in UTF-8: NEL, NBSP, OGHAM
// SPACE MARK, MONGOLIAN VOWEL SEPARATOR, U+2000..U+200D (spaces, zero-width space/joiners),
// LINE/PARAGRAPH SEPARATOR, NARROW NBSP, MEDIUM MATHEMATICAL SPACE, WORD JOINER, IDEOGRAPHIC
// SPACE, BOM. An editor or a copy-paste puts these into a constant as easily as a space.
constexpr std::string_view kInvisible[] = {
    "\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80", "\xe1\xa0\x8e", "\xe2\x80\x80",
    "\xe2\x80\x81", "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84", "\xe2\x80\x85",
    "\xe2\x80\x86", "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89", "\xe2\x80\x8a",
    "\xe2\x80\x8b", "\xe2\x80\x8c", "\xe2\x80\x8d", "\xe2\x80\xa8", "\xe2\x80\xa9",
    "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe2\x81\xa0", "\xe3\x80\x80", "\xef\xbb\xbf"};

// Length of the whitespace or invisible character at the start of `s`, 0 if there is none.
size_t SpaceAt(std::string_view s) {
  if (absl::ascii_isspace(static_cast<unsigned char>(s[0]))) return 1;
  for (std::string_view seq : kInvisible) {
    if (s.substr(0, seq.size()) == seq) return seq.size();
  }
  return 0;
}

// An event type that differs from the stake's only in (ASCII) case or whitespace, surrounding or
// embedded, ASCII or Unicode, is a producer bug, not another event: skipping it would drop a
// stake silently.
bool LooksLikeStakeEventType(std::string_view type) {
  std::string folded;
  for (size_t i = 0; i < type.size();) {
    if (size_t n = SpaceAt(type.substr(i)); n > 0) {
      i += n;
      continue;
    }
    folded.push_back(absl::ascii_tolower(static_cast<unsigned char>(type[i++])));
    if (folded.size() > kStakeEventType.size()) return false;
  }
  return folded == "player.stakecreated";
}

// nullopt when `type` is the stake event; otherwise the Skip, or the Rejection of a near miss.
std::optional<ParseResult> CheckEventType(std::string_view type, std::string_view event_id) {
  if (type == kStakeEventType) return std::nullopt;
  if (LooksLikeStakeEventType(type)) {
    return Reject(absl::StrCat("message.eventType: '", Sanitize(type, 80), "' is not '",
                               std::string(kStakeEventType), "' (case or whitespace differs)"),
                  event_id);
  }
  return Skip{Sanitize(type, 80)};
}

// The path of the first key that appears twice in one object, at any depth (simdjson bounds the
// depth, 1024 by default). Parsers disagree on which one wins (simdjson's lookup takes the first,
// PHP, JavaScript and Python the last), so the game service and the lottery could read different
// stakes from the same bytes. Keys are compared unescaped ("a" and "\u0061" are the same key).
// The path is built only on the way back from a duplicate, so a deep document costs no copies.
std::optional<std::string> DuplicateKey(simdjson::dom::element el) {
  simdjson::dom::object obj;
  simdjson::dom::array arr;
  if (el.get_object().get(obj) == simdjson::SUCCESS) {
    std::vector<std::string_view> keys;
    for (auto field : obj) {
      keys.push_back(field.key);
      if (auto d = DuplicateKey(field.value)) {
        return absl::StrCat(std::string(field.key), !d->empty() && d->front() == '[' ? "" : ".",
                            *d);
      }
    }
    std::sort(keys.begin(), keys.end());
    for (size_t i = 1; i < keys.size(); ++i) {
      if (keys[i] == keys[i - 1]) return std::string(keys[i]);
    }
  } else if (el.get_array().get(arr) == simdjson::SUCCESS) {
    size_t i = 0;
    for (auto item : arr) {
      if (auto d = DuplicateKey(item)) {
        return absl::StrCat("[", i, "]", !d->empty() && d->front() == '[' ? "" : ".", *d);
      }
      ++i;
    }
  }
  return std::nullopt;
}

// Everything after the wire form is decoded: event type, ids, stake.
ParseResult Finish(const Fields& f, const Uuid& event_id, std::string_view event_id_text,
                   const ParseOptions& options) {
  if (auto other = CheckEventType(f.event_type, event_id_text)) return *other;
  Stake stake;
  stake.event_id = event_id;
  if (auto r = CheckUuid("game.playerId", f.player_id, stake.player_id)) {
    return Reject(*r, event_id_text);
  }
  if (auto r = CheckUuid("game.gameId", f.game_id, stake.game_id)) return Reject(*r, event_id_text);
  if (f.stake.size() > 32) {
    return Reject(absl::StrCat("game.stake: oversized, ", f.stake.size(), " characters > 32"),
                  event_id_text);
  }
  auto minor = lottery::domain::ParseStakeMinor(f.stake, options.max_stake_major);
  if (!minor.ok()) {
    return Reject(absl::StrCat("game.", std::string(minor.status().message())), event_id_text);
  }
  stake.stake_minor = *minor;
  return stake;
}

// Reads a string member of a JSON object. Returns a reason on failure.
std::optional<std::string> JsonString(simdjson::dom::object obj, std::string_view key,
                                      std::string_view path, std::string_view& out) {
  simdjson::dom::element el;
  auto err = obj.at_key(key).get(el);
  if (err == simdjson::NO_SUCH_FIELD) return absl::StrCat(std::string(path), ": missing");
  if (err) return absl::StrCat(std::string(path), ": ", simdjson::error_message(err));
  if (el.is_null()) return absl::StrCat(std::string(path), ": null");
  if (!el.is_string()) return absl::StrCat(std::string(path), ": not a string");
  out = el.get_string().value_unsafe();
  return std::nullopt;
}

std::optional<std::string> JsonObject(simdjson::dom::object parent, std::string_view key,
                                      std::string_view path, simdjson::dom::object& out) {
  simdjson::dom::element el;
  auto err = parent.at_key(key).get(el);
  if (err == simdjson::NO_SUCH_FIELD) return absl::StrCat(std::string(path), ": missing");
  if (err) return absl::StrCat(std::string(path), ": ", simdjson::error_message(err));
  if (!el.is_object()) return absl::StrCat(std::string(path), ": not an object");
  out = el.get_object().value_unsafe();
  return std::nullopt;
}

}  // namespace

RawEvidence KeepRaw(std::string_view value) {
  RawEvidence e;
  e.kept = value.substr(0, kRawKeepBytes);
  e.length = static_cast<int64_t>(value.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(value.data(), value.size(), digest, &n, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < n; ++i) {
    e.sha256_hex.push_back(kHex[digest[i] >> 4]);
    e.sha256_hex.push_back(kHex[digest[i] & 15]);
  }
  return e;
}

std::optional<std::string> ConflictingDuplicate(const StakeFields& first, const Stake& again) {
  std::vector<std::string> diffs;
  if (first.player_id != again.player_id) {
    diffs.push_back(absl::StrCat("playerId ", lottery::domain::FormatUuid(first.player_id), " -> ",
                                 lottery::domain::FormatUuid(again.player_id)));
  }
  if (first.game_id != again.game_id) {
    diffs.push_back(absl::StrCat("gameId ", lottery::domain::FormatUuid(first.game_id), " -> ",
                                 lottery::domain::FormatUuid(again.game_id)));
  }
  if (first.stake_minor != again.stake_minor) {
    diffs.push_back(
        absl::StrCat("stake (minor units) ", first.stake_minor, " -> ", again.stake_minor));
  }
  if (diffs.empty()) return std::nullopt;
  std::string reason = "conflicting duplicate: this event id was already taken with ";
  for (size_t i = 0; i < diffs.size(); ++i) absl::StrAppend(&reason, i ? ", " : "", diffs[i]);
  return reason;
}

Uuid DerivedEventId(std::string_view topic, int32_t partition, int64_t offset) {
  return lottery::domain::UuidV5(kDerivedIdNamespace,
                                 absl::StrCat(std::string(topic), "/", partition, "/", offset));
}

std::string Sanitize(std::string_view bytes, size_t max_len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (out.size() >= max_len) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c <= 0x7e && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

ParseResult ParseStake(const RawMessage& msg, const ParseOptions& options) {
  // Headers: the last `uuid` and `content-type` win (librdkafka's get_last semantics).
  const std::optional<std::string>* uuid_header = nullptr;
  const std::optional<std::string>* content_type = nullptr;
  for (const auto& [name, value] : msg.headers) {
    if (name == "uuid") uuid_header = &value;
    if (absl::EqualsIgnoreCase(absl::string_view(name.data(), name.size()), "content-type")) {
      content_type = &value;
    }
  }
  std::string_view event_id_text;
  Uuid event_id;
  if (uuid_header == nullptr) {
    event_id = DerivedEventId(msg.topic, msg.partition, msg.offset);
  } else if (!uuid_header->has_value()) {
    return Reject("header uuid: null value", "");
  } else {
    event_id_text = **uuid_header;
    auto parsed = lottery::domain::ParseUuid(event_id_text);
    if (!parsed.ok()) {
      return Reject(absl::StrCat("header uuid: ", std::string(parsed.status().message())),
                    event_id_text);
    }
    if (*parsed == kNilUuid) {
      // A nil id would make every later stake that carries it a "duplicate".
      return Reject("header uuid: nil UUID", event_id_text);
    }
    event_id = *parsed;
  }

  if (msg.value_is_null) return Reject("value: null (tombstone)", event_id_text);
  if (msg.value.empty()) return Reject("value: empty", event_id_text);
  if (msg.value.size() > kMaxValueBytes) {
    return Reject(absl::StrCat("value: oversized, ", msg.value.size(), " bytes > ", kMaxValueBytes),
                  event_id_text);
  }

  std::string_view ct;
  if (content_type != nullptr && content_type->has_value()) ct = **content_type;
  absl::string_view act(ct.data(), ct.size());
  if (absl::StartsWithIgnoreCase(act, "application/x-protobuf")) {
    lottery::v1::StakeCreated pb;
    if (!pb.ParseFromString(msg.value)) {
      return Reject("protobuf: cannot parse lottery.v1.StakeCreated", event_id_text);
    }
    if (!pb.has_message()) return Reject("message: missing", event_id_text);
    if (pb.message().event_type().empty())
      return Reject("message.eventType: missing", event_id_text);
    Fields f{pb.message().event_type(), pb.game().player_id(), pb.game().game_id(),
             pb.game().stake()};
    if (f.event_type == kStakeEventType) {
      if (!pb.has_game()) return Reject("game: missing", event_id_text);
      if (f.player_id.empty()) return Reject("game.playerId: missing", event_id_text);
      if (f.game_id.empty()) return Reject("game.gameId: missing", event_id_text);
      if (f.stake.empty()) return Reject("game.stake: missing", event_id_text);
    }
    return Finish(f, event_id, event_id_text, options);
  }
  if (!ct.empty() && !absl::StartsWithIgnoreCase(act, "application/json")) {
    return Reject(absl::StrCat("content-type: unsupported '", Sanitize(ct, 80), "'"),
                  event_id_text);
  }

  // The DOM parser validates the whole document (syntax, UTF-8, trailing content), not only
  // the fields we read. One parser per thread keeps its buffers; it carries no meaning.
  thread_local simdjson::dom::parser parser;
  simdjson::padded_string padded(msg.value);
  simdjson::dom::element doc;
  if (auto err = parser.parse(padded).get(doc); err) {
    return Reject(absl::StrCat("json: ", simdjson::error_message(err)), event_id_text);
  }
  if (!doc.is_object()) return Reject("json: top level is not an object", event_id_text);
  if (auto d = DuplicateKey(doc)) {
    return Reject(absl::StrCat("json: duplicate key ", Sanitize(*d, 80)), event_id_text);
  }
  simdjson::dom::object root = doc.get_object().value_unsafe();
  simdjson::dom::object message, game;
  Fields f;
  if (auto r = JsonObject(root, "message", "message", message)) return Reject(*r, event_id_text);
  if (auto r = JsonString(message, "eventType", "message.eventType", f.event_type)) {
    return Reject(*r, event_id_text);
  }
  if (auto other = CheckEventType(f.event_type, event_id_text)) return *other;
  if (auto r = JsonObject(root, "game", "game", game)) return Reject(*r, event_id_text);
  if (auto r = JsonString(game, "playerId", "game.playerId", f.player_id))
    return Reject(*r, event_id_text);
  if (auto r = JsonString(game, "gameId", "game.gameId", f.game_id))
    return Reject(*r, event_id_text);
  if (auto r = JsonString(game, "stake", "game.stake", f.stake)) return Reject(*r, event_id_text);
  return Finish(f, event_id, event_id_text, options);
}

}  // namespace lottery::writer
