// lottery-migrate: applies the schema migrations (compiled into the binary, or read from --dir).
// Safe to run concurrently and repeatedly; refuses to run when an applied migration changed.
#include <cstdlib>
#include <iostream>

#include "CLI/CLI.hpp"
#include "lottery/common/cli.h"
#include "lottery/common/migrate.h"
#include "lottery/common/pg.h"
#include "lottery/common/roles.h"

int main(int argc, char** argv) {
  CLI::App app{"Applies the Lottery Service schema migrations to PostgreSQL."};
  std::string dsn;
  std::string dir;
  bool list = false;
  bool roles = false;
  app.add_option("--pg-dsn", dsn, "libpq connection string")->envname("LOTTERY_PG_DSN")->required();
  app.add_option("--dir", dir,
                 "read migrations from this directory instead of the compiled-in set");
  app.add_flag("--list", list, "print the migrations this binary would apply, then exit");
  app.add_flag("--roles", roles,
               "after migrating, create/update lottery_owner, lottery_writer, lottery_relay and "
               "lottery_admin with their grants (README 'Database privileges'); passwords only "
               "from LOTTERY_<ROLE>_PASSWORD[_FILE], else new roles are NOLOGIN");
  LOTTERY_CLI_PARSE(app, argc, argv);

  std::vector<lottery::migrate::Migration> migrations = lottery::migrate::EmbeddedMigrations();
  if (!dir.empty()) {
    auto loaded = lottery::migrate::LoadMigrations(dir);
    if (!loaded.ok()) {
      std::cerr << "lottery-migrate: " << loaded.status() << "\n";
      return 2;
    }
    migrations = std::move(*loaded);
  }
  if (list) {
    for (const auto& m : migrations)
      std::cout << m.name << " " << lottery::migrate::Checksum(m.sql) << "\n";
    return 0;
  }
  auto conn = lottery::pg::Connect(dsn);
  if (!conn.ok()) {
    std::cerr << "lottery-migrate: " << conn.status() << "\n";
    return 1;
  }
  auto report = lottery::migrate::Apply(conn->get(), migrations);
  if (!report.ok()) {
    std::cerr << "lottery-migrate: " << report.status() << "\n";
    return 1;
  }
  for (const auto& name : report->applied) std::cout << "applied " << name << "\n";
  std::cout << "schema up to date: " << report->applied.size() << " applied now, "
            << report->already_applied << " already applied\n";
  if (roles) {
    auto options = lottery::migrate::RoleOptionsFromEnvironment();
    if (!options.ok()) {
      std::cerr << "lottery-migrate: " << options.status() << "\n";
      return 2;
    }
    if (absl::Status st = lottery::migrate::ApplyRoles(conn->get(), *options); !st.ok()) {
      std::cerr << "lottery-migrate: roles: " << st << "\n";
      return 1;
    }
    std::cout << "roles up to date: lottery_owner, lottery_writer, lottery_relay, lottery_admin\n";
  }
  return 0;
}
