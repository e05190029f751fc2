#include "lottery/cdc/outbox_event.h"

#include <optional>
#include <string_view>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl_compat.h"
#include "lottery/common/status.h"
#include "simdjson.h"

namespace lottery::cdc {

using internal::Sv;
namespace {

constexpr absl::string_view kMsg = "outbox event";

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Index of each column by name in one Relation; -1 when absent.
class ColumnIndex {
 public:
  ColumnIndex(const Relation& relation, const TupleData& tuple)
      : relation_(relation), tuple_(tuple) {}

  // The text value of a required NOT NULL column.
  absl::StatusOr<std::string_view> Text(std::string_view name) const {
    std::optional<size_t> index;
    for (size_t i = 0; i < relation_.columns.size(); ++i) {
      if (relation_.columns[i].name == name) {
        index = i;
        break;
      }
    }
    if (!index) {
      return absl::FailedPreconditionError(
          absl::StrCat(kMsg, ": relation ", relation_.namespace_name, ".", relation_.relation_name,
                       " (OID ", relation_.oid, ") has no column \"", Sv(name), "\""));
    }
    const TupleValue& v = tuple_.columns[*index];
    switch (v.kind) {
      case TupleValue::Kind::kText:
        return std::string_view(v.data);
      case TupleValue::Kind::kNull:
        return absl::DataLossError(absl::StrCat(kMsg, ": column \"", Sv(name), "\" is null"));
      case TupleValue::Kind::kUnchangedToast:
        return absl::DataLossError(absl::StrCat(kMsg, ": column \"", Sv(name),
                                                "\" is an unchanged TOAST value (not sent)"));
      case TupleValue::Kind::kBinary:
        return absl::DataLossError(absl::StrCat(kMsg, ": column \"", Sv(name),
                                                "\" is in binary format; use text (no 'binary' "
                                                "option)"));
    }
    return absl::DataLossError(absl::StrCat(kMsg, ": column \"", Sv(name), "\" has unknown kind"));
  }

 private:
  const Relation& relation_;
  const TupleData& tuple_;
};

bool IsDecimal(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::string> DecodeByteaHex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') {
    return absl::DataLossError(
        "bytea: text does not start with \\x (is bytea_output set to 'escape'?)");
  }
  std::string_view hex = text.substr(2);
  if (hex.size() % 2 != 0) {
    return absl::DataLossError(absl::StrCat("bytea: odd number of hex digits (", hex.size(), ")"));
  }
  std::string out;
  out.resize(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexDigit(hex[2 * i]);
    int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::DataLossError(
          absl::StrCat("bytea: non-hex character at offset ", 2 + 2 * i + (hi < 0 ? 0 : 1)));
    }
    out[i] = static_cast<char>((hi << 4) | lo);
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseFlatJsonObject(
    std::string_view json) {
  // simdjson needs SIMDJSON_PADDING readable bytes after the input.
  simdjson::padded_string padded(json);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (auto error = parser.parse(padded).get(doc); error) {
    return absl::InvalidArgumentError(
        absl::StrCat("headers: invalid JSON: ", simdjson::error_message(error)));
  }
  simdjson::dom::object object;
  if (doc.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("headers: not a JSON object");
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (simdjson::dom::key_value_pair field : object) {
    std::string_view value;
    if (field.value.get_string().get(value) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(
          absl::StrCat("headers: value of \"", Sv(field.key), "\" is not a string"));
    }
    out.emplace_back(std::string(field.key), std::string(value));
  }
  return out;
}

absl::StatusOr<OutboxEvent> ExtractOutboxEvent(const Relation& relation, const TupleData& tuple) {
  if (tuple.columns.size() != relation.columns.size()) {
    return absl::DataLossError(absl::StrCat(kMsg, ": tuple has ", tuple.columns.size(),
                                            " columns but relation ", relation.relation_name,
                                            " (OID ", relation.oid, ") has ",
                                            relation.columns.size(), " (stale relation cache?)"));
  }
  ColumnIndex cols(relation, tuple);
  OutboxEvent e;
  ASSIGN_OR_RETURN(std::string_view seq, cols.Text("seq"));
  std::string_view seq_digits = seq.substr(!seq.empty() && seq[0] == '-' ? 1 : 0);
  if (!IsDecimal(seq_digits) || !absl::SimpleAtoi(Sv(seq), &e.seq)) {
    return absl::DataLossError(
        absl::StrCat(kMsg, ": seq is not an int64: \"", absl::CHexEscape(Sv(seq)), "\""));
  }
  ASSIGN_OR_RETURN(std::string_view id, cols.Text("id"));
  ASSIGN_OR_RETURN(std::string_view aggregatetype, cols.Text("aggregatetype"));
  ASSIGN_OR_RETURN(std::string_view aggregateid, cols.Text("aggregateid"));
  ASSIGN_OR_RETURN(std::string_view type, cols.Text("type"));
  ASSIGN_OR_RETURN(std::string_view topic, cols.Text("topic"));
  ASSIGN_OR_RETURN(std::string_view content_type, cols.Text("content_type"));
  ASSIGN_OR_RETURN(std::string_view payload, cols.Text("payload"));
  ASSIGN_OR_RETURN(std::string_view headers, cols.Text("headers"));
  ASSIGN_OR_RETURN(std::string_view txid, cols.Text("txid"));
  e.id = std::string(id);
  e.aggregatetype = std::string(aggregatetype);
  e.aggregateid = std::string(aggregateid);
  e.type = std::string(type);
  e.topic = std::string(topic);
  e.content_type = std::string(content_type);

  absl::StatusOr<std::string> bytes = DecodeByteaHex(payload);
  if (!bytes.ok()) {
    return absl::DataLossError(
        absl::StrCat(kMsg, ": column \"payload\": ", bytes.status().message()));
  }
  e.payload = *std::move(bytes);

  absl::StatusOr<std::vector<std::pair<std::string, std::string>>> parsed =
      ParseFlatJsonObject(headers);
  if (parsed.ok()) {
    e.headers = *std::move(parsed);
  } else {
    e.bad_headers = std::string(parsed.status().message());
  }

  uint64_t txid_value = 0;
  if (!IsDecimal(txid) || !absl::SimpleAtoi(Sv(txid), &txid_value)) {
    return absl::DataLossError(
        absl::StrCat(kMsg, ": txid is not a decimal xid8: \"", absl::CHexEscape(Sv(txid)), "\""));
  }
  e.txid = std::string(txid);
  return e;
}

}  // namespace lottery::cdc
