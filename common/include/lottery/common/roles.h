// The database roles the project ships (`lottery-migrate --roles`), each with only what its
// process does. README.md "Database privileges" has the table; roles_pgtest checks both
// directions (what each role can do, and that the writer cannot touch the schema or the rules).
//
//   lottery_owner   owns every table, sequence and the publication; runs lottery-migrate
//   lottery_writer  exactly the writer's DML, table by table; SELECT only on schema_migrations
//                   and game_rule
//   lottery_relay   REPLICATION, SELECT on outbox (all the relay and its recovery commands read)
//   lottery_admin   edits game_rule
//
// Contract: idempotent (creates what is missing, resets every grant of these roles on this
// database to exactly the table above, sets role attributes); safe against concurrent runs on
// other databases of the same cluster. Role attributes are cluster-wide, grants per database, so
// it is run once per database. Passwords are never arguments: a role gets LOGIN and the given
// password (sent as a SCRAM verifier computed here, so the plain text never reaches the server or
// its log) only when one is given; a new role without one is NOLOGIN, and an existing role's
// login and password are left as they are. Must run as a superuser or a role that owns the
// objects and has CREATEROLE (e.g. the one that applied the migrations).
#pragma once

#include <libpq-fe.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lottery::migrate {

inline constexpr const char* kOwnerRole = "lottery_owner";
inline constexpr const char* kWriterRole = "lottery_writer";
inline constexpr const char* kRelayRole = "lottery_relay";
inline constexpr const char* kAdminRole = "lottery_admin";

struct RoleOptions {
  // role name -> password; roles not named keep (or, when new, get NOLOGIN without) a password.
  std::map<std::string, std::string> passwords;
};

// Reads LOTTERY_OWNER_PASSWORD, LOTTERY_WRITER_PASSWORD, LOTTERY_RELAY_PASSWORD and
// LOTTERY_ADMIN_PASSWORD (each also as *_PASSWORD_FILE, the file's first line).
absl::StatusOr<RoleOptions> RoleOptionsFromEnvironment();

absl::Status ApplyRoles(PGconn* conn, const RoleOptions& options);

}  // namespace lottery::migrate
