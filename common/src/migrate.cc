#include "lottery/common/migrate.h"

#include <openssl/sha.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"

namespace lottery::migrate {
namespace {

// Any constant works; it only has to be the same for every migrator of this schema.
constexpr const char* kLockKey = "74321987";

absl::StatusOr<int> VersionOf(const std::string& name) {
  int version = 0;
  if (name.size() < 9 || name[4] != '_' || name.substr(name.size() - 4) != ".sql" ||
      !absl::SimpleAtoi(name.substr(0, 4), &version)) {
    return absl::InvalidArgumentError(
        absl::StrCat("migration file name '", name, "' is not NNNN_description.sql"));
  }
  return version;
}

absl::Status ApplyOne(PGconn* conn, const Migration& m) {
  RETURN_IF_ERROR(pg::ExecCommand(conn, "BEGIN"));
  pg::ResultPtr res(PQexec(conn, m.sql.c_str()));  // several statements: simple query protocol
  absl::Status st = pg::StatusFromResult(conn, res.get(), m.name);
  if (st.ok()) {
    st = pg::ExecCommand(
        conn, "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        {pg::Param::Text(std::to_string(m.version)), pg::Param::Text(m.name),
         pg::Param::Text(Checksum(m.sql))});
  }
  if (!st.ok()) {
    (void)pg::ExecCommand(conn, "ROLLBACK");
    return st;
  }
  return pg::ExecCommand(conn, "COMMIT");
}

}  // namespace

std::string Checksum(const std::string& sql) {
  unsigned char md[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(sql.data()), sql.size(), md);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : md) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

absl::StatusOr<std::vector<Migration>> LoadMigrations(const std::string& dir) {
  std::vector<Migration> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".sql") continue;
    Migration m;
    m.name = entry.path().filename().string();
    ASSIGN_OR_RETURN(m.version, VersionOf(m.name));
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    m.sql = ss.str();
    out.push_back(std::move(m));
  }
  if (ec)
    return absl::NotFoundError(absl::StrCat("migrations directory ", dir, ": ", ec.message()));
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].version == out[i - 1].version) {
      return absl::InvalidArgumentError(
          absl::StrCat("two migrations have version ", out[i].version));
    }
  }
  return out;
}

absl::StatusOr<Report> Apply(PGconn* conn, const std::vector<Migration>& migrations) {
  // Session-level lock: a second migrator waits here until the first is done, then finds
  // everything applied.
  RETURN_IF_ERROR(pg::ExecCommand(conn, "SET client_min_messages = warning"));
  RETURN_IF_ERROR(pg::ExecCommand(conn, absl::StrCat("SELECT pg_advisory_lock(", kLockKey, ")")));
  auto unlock = [conn] {
    (void)pg::ExecCommand(conn, absl::StrCat("SELECT pg_advisory_unlock(", kLockKey, ")"));
  };
  auto run = [&]() -> absl::StatusOr<Report> {
    // Only created when absent: CREATE ... IF NOT EXISTS needs CREATE on the schema even when the
    // table exists, and a role that may only read schema_migrations must still be able to see
    // that there is nothing to apply.
    ASSIGN_OR_RETURN(pg::ResultPtr exists,
                     pg::Exec(conn, "SELECT to_regclass('schema_migrations') IS NOT NULL"));
    if (pg::Value(exists.get(), 0, 0) != "t") {
      RETURN_IF_ERROR(pg::ExecCommand(
          conn,
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version integer PRIMARY KEY, name text NOT NULL,"
          " checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"));
    }
    ASSIGN_OR_RETURN(
        pg::ResultPtr res,
        pg::Exec(conn, "SELECT version, name, checksum FROM schema_migrations ORDER BY version"));
    std::map<int, std::pair<std::string, std::string>> applied;
    for (int i = 0; i < PQntuples(res.get()); ++i) {
      int v = std::stoi(std::string(pg::Value(res.get(), i, 0)));
      applied[v] = {std::string(pg::Value(res.get(), i, 1)),
                    std::string(pg::Value(res.get(), i, 2))};
    }
    // Verify every applied file first, so a tampered history applies nothing.
    for (const auto& m : migrations) {
      auto it = applied.find(m.version);
      if (it != applied.end() && it->second.second != Checksum(m.sql)) {
        return absl::FailedPreconditionError(
            absl::StrCat("migration ", m.name, " was changed after it was applied (checksum ",
                         Checksum(m.sql), ", applied ", it->second.second,
                         "); write a new migration instead of editing an applied one"));
      }
    }
    Report report;
    for (const auto& m : migrations) {
      if (applied.count(m.version) != 0) {
        ++report.already_applied;
        continue;
      }
      RETURN_IF_ERROR(ApplyOne(conn, m));
      report.applied.push_back(m.name);
    }
    return report;
  };
  auto result = run();
  unlock();
  return result;
}

}  // namespace lottery::migrate
