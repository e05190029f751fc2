#include "lottery/common/pg.h"

#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace lottery::pg {
namespace {

absl::StatusCode CodeForSqlState(std::string_view state) {
  if (state == "40001" || state == "40P01") return absl::StatusCode::kAborted;
  if (state.substr(0, 2) == "08" || state.substr(0, 3) == "57P" || state == "53300")
    return absl::StatusCode::kUnavailable;
  if (state.substr(0, 2) == "23" || state.substr(0, 2) == "22")
    return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kInternal;
}

}  // namespace

absl::StatusOr<ConnPtr> Connect(const std::string& dsn) {
  ConnPtr conn(PQconnectdb(dsn.c_str()));
  if (conn == nullptr) return absl::ResourceExhaustedError("libpq could not allocate a connection");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(conn.get());
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    return absl::UnavailableError(absl::StrCat("connect to PostgreSQL: ", msg));
  }
  return conn;
}

absl::Status StatusFromResult(PGconn* conn, const PGresult* res, std::string_view what) {
  if (res != nullptr) {
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN ||
        st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH || st == PGRES_SINGLE_TUPLE ||
        st == PGRES_PIPELINE_SYNC) {
      return absl::OkStatus();
    }
  }
  std::string msg = res != nullptr ? PQresultErrorMessage(res) : "";
  if (msg.empty() && conn != nullptr) msg = PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  const char* state = res != nullptr ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  absl::StatusCode code;
  if (state != nullptr) {
    code = CodeForSqlState(state);
  } else if (conn == nullptr || PQstatus(conn) != CONNECTION_OK) {
    code = absl::StatusCode::kUnavailable;
  } else {
    code = absl::StatusCode::kInternal;
  }
  std::string prefix = state != nullptr ? absl::StrCat(state, " ") : std::string();
  return absl::Status(code, absl::StrCat(std::string(what), ": ", prefix, msg));
}

absl::StatusOr<ResultPtr> Exec(PGconn* conn, std::string_view sql,
                               const std::vector<Param>& params) {
  std::string query(sql);
  std::vector<const char*> values(params.size());
  std::vector<int> lengths(params.size());
  std::vector<int> formats(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    values[i] = params[i].value ? params[i].value->data() : nullptr;
    lengths[i] = params[i].value ? static_cast<int>(params[i].value->size()) : 0;
    formats[i] = params[i].binary ? 1 : 0;
  }
  ResultPtr res(PQexecParams(conn, query.c_str(), static_cast<int>(params.size()), nullptr,
                             values.data(), lengths.data(), formats.data(), 0));
  absl::Status st = StatusFromResult(conn, res.get(), sql.substr(0, 60));
  if (!st.ok()) return st;
  return res;
}

absl::Status ExecCommand(PGconn* conn, std::string_view sql, const std::vector<Param>& params) {
  auto res = Exec(conn, sql, params);
  return res.status();
}

namespace {

template <typename Int>
absl::StatusOr<Int> IntAt(const PGresult* r, int row, int col, const char* type) {
  Int v = 0;
  std::string_view text = Value(r, row, col);
  if (IsNull(r, row, col) || !absl::SimpleAtoi(absl::string_view(text.data(), text.size()), &v)) {
    return absl::DataLossError(absl::StrCat("column ", PQfname(r, col), " of row ", row, ": '",
                                            std::string(text.substr(0, 40)), "' is not an ", type));
  }
  return v;
}

}  // namespace

absl::StatusOr<int64_t> Int64At(const PGresult* r, int row, int col) {
  return IntAt<int64_t>(r, row, col, "int64");
}
absl::StatusOr<int32_t> Int32At(const PGresult* r, int row, int col) {
  return IntAt<int32_t>(r, row, col, "int32");
}

absl::StatusOr<std::string> DecodeByteaHex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || (text.size() % 2) != 0) {
    return absl::DataLossError("bytea value is not in hex format");
  }
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve((text.size() - 2) / 2);
  for (size_t i = 2; i < text.size(); i += 2) {
    int hi = nibble(text[i]), lo = nibble(text[i + 1]);
    if (hi < 0 || lo < 0) return absl::DataLossError("bytea value has a non-hex digit");
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string EncodeByteaHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\\x";
  out.reserve(2 + bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string QuoteIdent(PGconn* conn, std::string_view ident) {
  std::string s(ident);
  char* q = PQescapeIdentifier(conn, s.c_str(), s.size());
  if (q == nullptr) return "\"" + s + "\"";
  std::string out(q);
  PQfreemem(q);
  return out;
}

}  // namespace lottery::pg
