// Schema migrations: plain SQL files `NNNN_description.sql`, applied in order, each in its own
// transaction, recorded in `schema_migrations` (version, name, SHA-256 checksum, time).
//
// Contract: re-running is a no-op; an applied file whose checksum changed is refused
// (kFailedPrecondition, nothing applied); concurrent migrators serialize on an advisory lock, so
// they end with one applied set. The migrations of this source tree are compiled into the binary
// (EmbeddedMigrations), so a deployed binary carries exactly the schema it was built for.
#pragma once

#include <libpq-fe.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lottery::migrate {

struct Migration {
  int version = 0;
  std::string name;  // file name, e.g. "0001_init.sql"
  std::string sql;
};

struct Report {
  std::vector<std::string> applied;  // names applied by this run
  int already_applied = 0;
};

// The migrations compiled in from sql/migrations/, in version order.
const std::vector<Migration>& EmbeddedMigrations();

// Reads `NNNN_*.sql` files from a directory, in version order. kInvalidArgument on a bad name or
// a duplicate version.
absl::StatusOr<std::vector<Migration>> LoadMigrations(const std::string& dir);

// Applies what is not applied yet. See the contract above.
absl::StatusOr<Report> Apply(PGconn* conn, const std::vector<Migration>& migrations);

// Hex SHA-256 of the file contents, as stored in schema_migrations.checksum.
std::string Checksum(const std::string& sql);

}  // namespace lottery::migrate
