#include "lottery/common/roles.h"

#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"

namespace lottery::migrate {
namespace {

// The writer's statements, table by table (writer/src/ingest.cc, draw_step.cc, rejections.cc):
// SELECT ... FOR UPDATE needs UPDATE; the outbox prune reads and deletes; nothing else deletes.
constexpr const char* kGrants[] = {
    "GRANT USAGE ON SCHEMA public TO lottery_writer, lottery_relay, lottery_admin",
    "GRANT SELECT ON schema_migrations, game_rule TO lottery_writer",
    "GRANT SELECT, INSERT, UPDATE ON lottery, lottery_entry, consumer_offset TO lottery_writer",
    "GRANT INSERT ON lottery_award, rejected_stake TO lottery_writer",
    "GRANT SELECT, INSERT, DELETE ON outbox TO lottery_writer",
    "GRANT USAGE ON SEQUENCE outbox_seq_seq, rejected_stake_id_seq TO lottery_writer",
    // The relay: pgoutput through its slot, and the outbox queries of status/replay/recover.
    "GRANT SELECT ON outbox TO lottery_relay",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON game_rule TO lottery_admin",
    "GRANT SELECT ON schema_migrations TO lottery_admin",
};

// Every ownership change the owner needs; tables are listed from the catalog, so a table added
// by a later migration is included (its grants need a line above).
constexpr const char* kOwnership = R"sql(
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
  LOOP
    EXECUTE format('ALTER TABLE public.%I OWNER TO lottery_owner', r.relname);
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'lottery_outbox') THEN
    ALTER PUBLICATION lottery_outbox OWNER TO lottery_owner;
  END IF;
END $$)sql";

// Creates `role` if it does not exist. A concurrent creator (another database's run) makes the
// CREATE fail with unique_violation/duplicate_object, which means the role exists: fine.
std::string CreateRole(const std::string& role, const std::string& attributes) {
  return absl::StrCat("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '", role,
                      "') THEN CREATE ROLE ", role, " NOLOGIN ", attributes,
                      "; END IF; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; "
                      "END $$");
}

absl::Status ApplyOnce(PGconn* conn, const RoleOptions& options) {
  struct RoleSpec {
    const char* name;
    const char* attributes;
  };
  const RoleSpec roles[] = {
      {kOwnerRole, "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"},
      {kWriterRole, "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"},
      // REPLICATION can read every table's changes through a slot of its own; README says why
      // this does not matter for fairness (derived seeds).
      {kRelayRole, "NOSUPERUSER NOCREATEDB NOCREATEROLE REPLICATION NOBYPASSRLS"},
      {kAdminRole, "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"},
  };
  for (const RoleSpec& r : roles) {
    RETURN_IF_ERROR(pg::ExecCommand(conn, CreateRole(r.name, r.attributes)));
    RETURN_IF_ERROR(pg::ExecCommand(conn, absl::StrCat("ALTER ROLE ", r.name, " ", r.attributes)));
    auto pw = options.passwords.find(r.name);
    if (pw == options.passwords.end()) continue;
    // A SCRAM verifier, computed client-side: the password itself never leaves this process.
    char* verifier = PQencryptPasswordConn(conn, pw->second.c_str(), r.name, "scram-sha-256");
    if (verifier == nullptr) {
      return absl::InternalError(
          absl::StrCat("cannot encrypt the password of ", r.name, ": ", PQerrorMessage(conn)));
    }
    char* literal = PQescapeLiteral(conn, verifier, std::strlen(verifier));
    PQfreemem(verifier);
    if (literal == nullptr) return absl::InternalError("PQescapeLiteral failed");
    const std::string sql = absl::StrCat("ALTER ROLE ", r.name, " LOGIN PASSWORD ", literal);
    PQfreemem(literal);
    RETURN_IF_ERROR(pg::ExecCommand(conn, sql));
  }
  RETURN_IF_ERROR(pg::ExecCommand(conn, "BEGIN"));
  auto in_txn = [&]() -> absl::Status {
    RETURN_IF_ERROR(pg::ExecCommand(conn, kOwnership));
    RETURN_IF_ERROR(pg::ExecCommand(conn, "GRANT USAGE, CREATE ON SCHEMA public TO lottery_owner"));
    // Reset, then grant exactly the table: a grant removed from the table is revoked on rerun.
    for (const char* role : {kWriterRole, kRelayRole, kAdminRole}) {
      RETURN_IF_ERROR(pg::ExecCommand(
          conn, absl::StrCat("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ", role)));
      RETURN_IF_ERROR(pg::ExecCommand(
          conn, absl::StrCat("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM ", role)));
    }
    for (const char* sql : kGrants) RETURN_IF_ERROR(pg::ExecCommand(conn, sql));
    // ON CONFLICT (source_topic, source_partition, source_offset) reads the conflict target.
    RETURN_IF_ERROR(
        pg::ExecCommand(conn, absl::StrCat("GRANT SELECT (source_topic, source_partition, ",
                                           "source_offset) ON rejected_stake TO ", kWriterRole)));
    return pg::ExecCommand(conn, "COMMIT");
  };
  absl::Status st = in_txn();
  if (!st.ok()) (void)pg::ExecCommand(conn, "ROLLBACK");
  return st;
}

}  // namespace

absl::StatusOr<RoleOptions> RoleOptionsFromEnvironment() {
  RoleOptions options;
  const std::pair<const char*, const char*> vars[] = {{kOwnerRole, "LOTTERY_OWNER_PASSWORD"},
                                                      {kWriterRole, "LOTTERY_WRITER_PASSWORD"},
                                                      {kRelayRole, "LOTTERY_RELAY_PASSWORD"},
                                                      {kAdminRole, "LOTTERY_ADMIN_PASSWORD"}};
  for (const auto& [role, var] : vars) {
    if (const char* v = std::getenv(var); v != nullptr && *v != '\0') {
      options.passwords[role] = v;
      continue;
    }
    const std::string file_var = absl::StrCat(var, "_FILE");
    if (const char* path = std::getenv(file_var.c_str()); path != nullptr && *path != '\0') {
      std::ifstream in(path);
      std::string line;
      if (!in || !std::getline(in, line)) {
        return absl::InvalidArgumentError(absl::StrCat(file_var, ": cannot read '", path, "'"));
      }
      absl::StripTrailingAsciiWhitespace(&line);
      if (line.empty()) return absl::InvalidArgumentError(absl::StrCat(file_var, ": empty"));
      options.passwords[role] = line;
    }
  }
  return options;
}

absl::Status ApplyRoles(PGconn* conn, const RoleOptions& options) {
  // ALTER ROLE from runs on other databases of the cluster can collide ("tuple concurrently
  // updated", XX000); the statements are idempotent, so a collision is simply redone.
  absl::Status st;
  for (int attempt = 0; attempt < 5; ++attempt) {
    st = ApplyOnce(conn, options);
    if (st.ok() || st.message().find("concurrently") == absl::string_view::npos) return st;
  }
  return st;
}

}  // namespace lottery::migrate
