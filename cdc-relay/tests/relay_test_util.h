// The world of the relay's integration tests (the relay and recovery suites): a private database,
// slot and topics per test, the relay binary as a child process, and outbox inserts straight
// through SQL.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lottery/cdc/lsn.h"
#include "lottery/common/pg.h"
#include "lottery/testing/stack.h"

namespace lottery::cdc::testing {

using lottery::testing::BinaryPath;
using lottery::testing::KafkaBootstrap;
using lottery::testing::Process;
using lottery::testing::TestDatabase;
using lottery::testing::UniqueName;
using lottery::testing::WaitFor;

// One test's world: its database (with its publication), slot, checkpoint topic, event topic.
struct RelayWorld {
  explicit RelayWorld(const std::string& prefix = "relay")
      : db(prefix),
        slot(UniqueName(prefix + "_slot")),
        checkpoint_topic(UniqueName(prefix + "_cp")),
        topic(UniqueName(prefix + "_events")) {}

  TestDatabase db;
  std::string slot;
  std::string checkpoint_topic;
  std::string topic;
  std::string log_dir = ::testing::TempDir();

  std::string LogPath(const std::string& name) const {
    return absl::StrCat(log_dir, "/", slot, "_", name, ".log");
  }

  std::unique_ptr<Process> StartRelay(const std::string& log_name,
                                      std::vector<std::string> extra = {}) const {
    std::vector<std::string> argv = {BinaryPath("lottery-cdc-relay"),
                                     "run",
                                     "--pg-dsn",
                                     db.RoleDsn("lottery_relay"),
                                     "--kafka-bootstrap",
                                     KafkaBootstrap(),
                                     "--slot",
                                     slot,
                                     "--checkpoint-topic",
                                     checkpoint_topic};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return std::make_unique<Process>(argv, RoleEnv(), LogPath(log_name));
  }

  // The relay runs as lottery_relay, the writer as lottery_writer (db.RoleDsn).
  static std::map<std::string, std::string> RoleEnv() {
    return {{"PGPASSWORD", lottery::testing::kTestRolePassword}};
  }

  std::string Log(const std::string& log_name) const {
    return lottery::testing::ReadFile(LogPath(log_name));
  }

  bool SlotExists() const {
    return db.Scalar(absl::StrCat("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '",
                                  slot, "'")) == "1";
  }

  // Whether a walsender holds the slot; nullopt when there is no slot.
  std::optional<bool> SlotActive() const {
    std::string active = db.Scalar(
        absl::StrCat("SELECT active FROM pg_replication_slots WHERE slot_name = '", slot, "'"));
    if (active.empty()) return std::nullopt;
    return active == "t";
  }

  Lsn CurrentWalLsn() const { return *ParseLsn(db.Scalar("SELECT pg_current_wal_lsn()")); }

  Lsn ConfirmedFlush() const {
    std::string s = db.Scalar(absl::StrCat(
        "SELECT coalesce(confirmed_flush_lsn, '0/0') FROM pg_replication_slots WHERE slot_name = '",
        slot, "'"));
    auto lsn = ParseLsn(s.empty() ? "0/0" : s);
    return lsn.ok() ? *lsn : 0;
  }

  // Waits until the relay confirmed everything written so far (so it is all in Kafka). A slot
  // that was just created is already confirmed to the WAL's end while its initial snapshot is
  // still being published, so the target is a WAL record written after the slot exists: only a
  // relay that finished any snapshot and streams confirms past it.
  bool WaitUntilCaughtUp(std::chrono::milliseconds timeout = std::chrono::seconds(30)) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!WaitFor([&] { return SlotExists(); }, timeout)) return false;
    // Its own LSN is the target (pg_current_wal_lsn() is the write position, which can still be
    // behind the slot's consistent point).
    Lsn target = *ParseLsn(
        db.Scalar("SELECT pg_logical_emit_message(false, 'lottery-test', 'caught up?')::text"));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return WaitFor([&] { return ConfirmedFlush() >= target; },
                   std::max(left, std::chrono::milliseconds(1)));
  }
};

// Inserts one outbox row per key in ONE statement (one transaction, one commit LSN); returns
// the event ids in insert order.
inline std::vector<std::string> InsertOutbox(PGconn* conn, const std::string& topic,
                                             const std::vector<std::string>& keys,
                                             const std::vector<std::string>& payloads,
                                             const std::string& headers_json = "{}") {
  std::string sql =
      "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, content_type, payload, "
      "headers) SELECT gen_random_uuid(), 'award', k, 'lotteryAwardCreated', $1, "
      "'application/json', convert_to(p, 'UTF8'), $4::jsonb "
      "FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(k, p, n) ORDER BY n "
      "RETURNING id::text";
  auto array = [](const std::vector<std::string>& v) {
    std::string out = "{";
    for (size_t i = 0; i < v.size(); ++i) {
      if (i > 0) out += ",";
      out += "\"";
      for (char c : v[i]) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
      }
      out += "\"";
    }
    return out + "}";
  };
  auto res = pg::Exec(conn, sql,
                      {pg::Param::Text(topic), pg::Param::Text(array(keys)),
                       pg::Param::Text(array(payloads)), pg::Param::Text(headers_json)});
  std::vector<std::string> ids;
  if (!res.ok()) {
    ADD_FAILURE() << res.status();
    return ids;
  }
  for (int i = 0; i < PQntuples(res->get()); ++i) ids.emplace_back(pg::Value(res->get(), i, 0));
  return ids;
}

// Rows keep coming while a test acts: `insert(conn, i)` for i = 0, 1, ... (each its own
// transaction) every `pause`, on its own connection, until Stop(), which returns the ids it
// returned, in commit order.
class Trickle {
 public:
  using Insert = std::function<std::vector<std::string>(PGconn*, int)>;
  Trickle(const TestDatabase& db, Insert insert, std::chrono::milliseconds pause)
      : insert_(std::move(insert)), thread_([this, &db, pause] {
          auto conn = db.Connect();
          for (int i = 0; !stop_.load(); ++i) {
            auto got = insert_(conn.get(), i);
            ids_.insert(ids_.end(), got.begin(), got.end());
            std::this_thread::sleep_for(pause);
          }
        }) {}
  // One outbox row per transaction into the world's topic, keys k0..k<keys-1>.
  Trickle(const RelayWorld& w, int keys, std::chrono::milliseconds pause)
      : Trickle(
            w.db,
            [&w, keys](PGconn* conn, int i) {
              return InsertOutbox(conn, w.topic, {absl::StrCat("k", i % keys)}, {absl::StrCat(i)});
            },
            pause) {}
  ~Trickle() { Stop(); }
  Trickle(const Trickle&) = delete;
  Trickle& operator=(const Trickle&) = delete;
  std::vector<std::string> Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    return ids_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::vector<std::string> ids_;
  Insert insert_;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace lottery::cdc::testing
