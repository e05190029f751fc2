// libpq handles and a thin, Status-returning layer over them.
//
// SQLSTATE -> absl::StatusCode, so callers know what to do (STYLE.md):
//   connection failures, admin shutdown, 57P*, 08*   -> kUnavailable (reconnect, retry)
//   40001 serialization_failure, 40P01 deadlock       -> kAborted (redo the transaction)
//   23*, 22* (constraint, data exception)             -> kInvalidArgument
//   anything else                                     -> kInternal
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lottery::pg {

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Opens a connection (blocking). kUnavailable when the server cannot be reached.
absl::StatusOr<ConnPtr> Connect(const std::string& dsn);

// Maps a failed result (or a null result / broken connection) to a Status as described above.
absl::Status StatusFromResult(PGconn* conn, const PGresult* res, std::string_view what);

// A parameter: std::nullopt is SQL NULL. Text format unless `binary` is set.
struct Param {
  std::optional<std::string> value;
  bool binary = false;
  static Param Null() { return Param{std::nullopt, false}; }
  static Param Text(std::string v) { return Param{std::move(v), false}; }
  static Param Bytes(std::string v) { return Param{std::move(v), true}; }
};

// Runs one statement. Returns the result when its status is COMMAND_OK or TUPLES_OK.
absl::StatusOr<ResultPtr> Exec(PGconn* conn, std::string_view sql,
                               const std::vector<Param>& params = {});

// Runs a statement that returns nothing of interest (BEGIN, COMMIT, DDL ...).
absl::Status ExecCommand(PGconn* conn, std::string_view sql, const std::vector<Param>& params = {});

// Accessors with no surprises: the text value of a cell (empty for NULL), NULL check.
inline std::string_view Value(const PGresult* r, int row, int col) {
  return std::string_view(PQgetvalue(r, row, col), PQgetlength(r, row, col));
}
inline bool IsNull(const PGresult* r, int row, int col) { return PQgetisnull(r, row, col) != 0; }

// Typed reads of a text-format cell. kDataLoss naming the column when the cell is NULL or not
// an integer of that width: a row the schema cannot produce stops the caller, it never throws.
absl::StatusOr<int64_t> Int64At(const PGresult* r, int row, int col);
absl::StatusOr<int32_t> Int32At(const PGresult* r, int row, int col);

// Decodes a bytea in text output ("\x0a0b...") into raw bytes.
absl::StatusOr<std::string> DecodeByteaHex(std::string_view text);
// Encodes raw bytes as a bytea hex literal ("\x0a0b..."), for text-format parameters.
std::string EncodeByteaHex(std::string_view bytes);

// Quotes an identifier for use in SQL text (slot, publication, database names).
std::string QuoteIdent(PGconn* conn, std::string_view ident);

}  // namespace lottery::pg
