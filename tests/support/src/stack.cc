#include "lottery/testing/stack.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lottery/common/migrate.h"
#include "lottery/common/roles.h"
#include "lottery/common/testing/status_matchers.h"

namespace lottery::testing {
namespace {

std::string RequireEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    std::cerr << name << " is not set: integration tests need the real stack. Run them through "
              << "`make test` (which starts scripts/stack), or `eval \"$(scripts/stack env)\"`.\n";
    std::abort();
  }
  return v;
}

}  // namespace

std::string PgDsn() { return RequireEnv("LOTTERY_PG_DSN"); }
std::string KafkaBootstrap() { return RequireEnv("LOTTERY_KAFKA_BOOTSTRAP"); }

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const uint32_t salt = std::random_device{}();
  return absl::StrCat(prefix, "_", getpid(), "_", counter++, "_", salt % 100000);
}

std::string WithDatabase(const std::string& dsn, const std::string& dbname) {
  std::string out;
  size_t pos = 0;
  bool replaced = false;
  while (pos < dsn.size()) {
    size_t end = dsn.find(' ', pos);
    if (end == std::string::npos) end = dsn.size();
    std::string item = dsn.substr(pos, end - pos);
    if (item.rfind("dbname=", 0) == 0) {
      item = "dbname=" + dbname;
      replaced = true;
    }
    if (!item.empty()) absl::StrAppend(&out, out.empty() ? "" : " ", item);
    pos = end + 1;
  }
  if (!replaced) absl::StrAppend(&out, " dbname=", dbname);
  return out;
}

TestDatabase::TestDatabase(const std::string& prefix, bool migrate) {
  name_ = UniqueName(prefix);
  auto admin = pg::Connect(WithDatabase(PgDsn(), "postgres"));
  if (!admin.ok()) {
    ADD_FAILURE() << admin.status();
    return;
  }
  absl::Status st = pg::ExecCommand(admin->get(), absl::StrCat("CREATE DATABASE ", name_));
  if (!st.ok()) ADD_FAILURE() << st;
  dsn_ = WithDatabase(PgDsn(), name_);
  if (migrate) {
    auto conn = Connect();
    auto report = migrate::Apply(conn.get(), migrate::EmbeddedMigrations());
    if (!report.ok()) ADD_FAILURE() << report.status();
  }
}

TestDatabase::~TestDatabase() {
  if (std::getenv("LOTTERY_KEEP_TEST_DB") != nullptr) return;
  auto admin = pg::Connect(WithDatabase(PgDsn(), "postgres"));
  if (!admin.ok()) return;
  // Slots pin WAL for the whole cluster: drop this database's slots with it.
  (void)pg::ExecCommand(admin->get(),
                        "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                        "WHERE database = $1 AND active_pid IS NOT NULL",
                        {pg::Param::Text(name_)});
  (void)pg::ExecCommand(
      admin->get(),
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1",
      {pg::Param::Text(name_)});
  (void)pg::ExecCommand(admin->get(),
                        absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"));
}

pg::ConnPtr TestDatabase::Connect() const {
  auto conn = pg::Connect(dsn_);
  if (!conn.ok()) {
    ADD_FAILURE() << conn.status();
    return nullptr;
  }
  return std::move(*conn);
}

std::string TestDatabase::Scalar(const std::string& sql) const {
  auto conn = Connect();
  if (conn == nullptr) return "";
  auto res = pg::Exec(conn.get(), sql);
  if (!res.ok()) {
    ADD_FAILURE() << res.status();
    return "";
  }
  if (PQntuples(res->get()) == 0) return "";
  return std::string(pg::Value(res->get(), 0, 0));
}

std::string TestDatabase::RoleDsn(const std::string& role) const {
  if (!roles_applied_) {
    auto admin = Connect();
    if (admin != nullptr) {
      migrate::RoleOptions roles;
      for (const char* r : {migrate::kWriterRole, migrate::kRelayRole, migrate::kAdminRole})
        roles.passwords[r] = kTestRolePassword;
      absl::Status st = migrate::ApplyRoles(admin.get(), roles);
      if (!st.ok()) ADD_FAILURE() << "applying the roles: " << st;
      roles_applied_ = st.ok();
    }
  }
  return absl::StrCat(dsn_, " user=", role);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<std::string> Record::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

std::vector<Record> ReadAllCommitted(const std::vector<std::string>& topics,
                                     std::chrono::milliseconds timeout) {
  std::vector<Record> out;
  // A transaction's commit returns before its markers are on every partition: up to the high
  // watermark, with a grace for markers in flight (an open transaction is left behind after it).
  kafka::ReadToEndOptions o{.client = {{"bootstrap.servers", KafkaBootstrap()}},
                            .group_id = UniqueName("reader"),
                            .timeout = timeout,
                            .marker_grace = std::chrono::seconds(3)};
  absl::Status st = kafka::ReadToEnd(topics, o, [&](const rd_kafka_message_t& m) {
    Record r;
    r.topic = rd_kafka_topic_name(m.rkt);
    r.partition = m.partition;
    r.offset = m.offset;
    if (m.key != nullptr) r.key = std::string(static_cast<const char*>(m.key), m.key_len);
    if (m.payload != nullptr) r.value.assign(static_cast<const char*>(m.payload), m.len);
    for (auto& [name, value] : kafka::MessageHeaders(&m)) {
      r.headers.emplace_back(name, value.value_or(""));
    }
    out.push_back(std::move(r));
    return absl::OkStatus();
  });
  if (!st.ok()) ADD_FAILURE() << "ReadAllCommitted: " << st;
  return out;
}

void ExpectEachExactlyOnce(const std::vector<Record>& records,
                           const std::vector<std::string>& expected_ids) {
  std::map<std::string, int> seen;
  int without_id = 0;
  for (const Record& r : records) {
    if (auto id = r.Header("id")) {
      ++seen[*id];
    } else {
      ++without_id;
    }
  }
  std::map<std::string, int> expected;
  for (const auto& id : expected_ids) ++expected[id];
  std::vector<std::string> missing, duplicated, invented;
  for (const auto& [id, n] : expected) {
    auto it = seen.find(id);
    if (it == seen.end()) {
      missing.push_back(id);
    } else if (it->second != 1) {
      duplicated.push_back(absl::StrCat(id, " x", it->second));
    }
  }
  for (const auto& [id, n] : seen) {
    if (!expected.contains(id)) invented.push_back(id);
  }
  auto first = [](const std::vector<std::string>& v) {
    std::string out;
    for (size_t i = 0; i < v.size() && i < 5; ++i) absl::StrAppend(&out, i ? ", " : "", v[i]);
    return v.size() > 5 ? absl::StrCat(out, ", ...") : out;
  };
  EXPECT_EQ(without_id, 0) << "records without an id header";
  EXPECT_TRUE(missing.empty()) << missing.size() << " of " << expected.size()
                               << " events missing from Kafka: " << first(missing);
  EXPECT_TRUE(duplicated.empty()) << duplicated.size()
                                  << " events published more than once: " << first(duplicated);
  EXPECT_TRUE(invented.empty()) << invented.size()
                                << " records whose id was not expected: " << first(invented);
  EXPECT_EQ(records.size(), expected_ids.size());
}

void ProduceAll(const std::vector<OutRecord>& records, const kafka::Properties& extra) {
  kafka::Properties props = {
      {"bootstrap.servers", KafkaBootstrap()}, {"enable.idempotence", "true"}, {"linger.ms", "5"}};
  for (const auto& [k, v] : extra) props[k] = v;
  auto conf = kafka::MakeConf(props);
  ASSERT_TRUE(conf.ok()) << conf.status();
  auto producer = kafka::MakeClient(RD_KAFKA_PRODUCER, std::move(*conf));
  ASSERT_TRUE(producer.ok()) << producer.status();
  for (const auto& r : records) {
    ASSERT_OK(kafka::Produce(producer->get(), {.topic = r.topic,
                                               .key = r.key,
                                               .value = r.value,
                                               .headers = r.headers,
                                               .partition = r.partition}));
  }
  ASSERT_EQ(rd_kafka_flush(producer->get(), 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

Process::Process(const std::vector<std::string>& argv,
                 const std::map<std::string, std::string>& env, const std::string& log_path) {
  pid_ = fork();
  if (pid_ == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
}

Process::~Process() {
  if (Running()) {
    kill(pid_, SIGKILL);
    Wait(std::chrono::seconds(10));
  }
}

bool Process::Running() {
  if (exit_code_ || pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return false;
}

void Process::Kill(int sig) {
  if (Running()) kill(pid_, sig);
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  WaitFor([this] { return !Running(); }, timeout);
  return exit_code_;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  if (port == 0) ADD_FAILURE() << "FreePort: could not bind a socket on 127.0.0.1";
  return port;
}

std::string BinaryPath(const std::string& name) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return (self.parent_path().parent_path() / "bin" / name).string();
}

}  // namespace lottery::testing
