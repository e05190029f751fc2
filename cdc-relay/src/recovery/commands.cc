#include "lottery/cdc/recovery/commands.h"

#include <signal.h>

#include <atomic>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lottery/cdc/recovery/drop.h"
#include "lottery/cdc/recovery/recover.h"
#include "lottery/cdc/recovery/replay.h"
#include "lottery/cdc/recovery/status.h"
#include "lottery/cdc/relay.h"
#include "lottery/cdc/replication.h"
#include "lottery/common/cli.h"
#include "lottery/common/json.h"
#include "lottery/common/pg.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace lottery::cdc::recovery {

namespace {

// Exit codes of the commands other than status: 0 done, 1 failed, 2 bad usage/configuration.
constexpr int kFailed = 1;
constexpr int kUsage = 2;

int Fail(const absl::Status& st) {
  std::cerr << "lottery-cdc-relay: " << st.ToString() << "\n";
  return st.code() == absl::StatusCode::kInvalidArgument ? kUsage : kFailed;
}

void SetLogLevel(const CommonOptions& o) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("recovery"));
  spdlog::set_level(cli::ParseLogLevel(o.log_level).value_or(spdlog::level::info));
}

std::atomic<bool> g_replay_stop{false};
void OnReplayStopSignal(int) { g_replay_stop = true; }

// `replay --publish`: the daemon's own loop (RunRelay), bounded by an end LSN, for resuming by hand
// after an outage. It refuses while a daemon holds the slot: that daemon already publishes what the
// slot holds, and taking over its transactional id would fence it.
int ReplayPublish(const CommonOptions& options, const std::string& to_lsn) {
  auto config = MakeRelayConfig(options);
  if (!config.ok()) return Fail(config.status());
  auto conn = pg::Connect(options.pg_dsn);
  if (!conn.ok()) return Fail(conn.status());
  auto slot = InspectSlot(conn->get(), options.slot);
  if (!slot.ok()) return Fail(slot.status());
  if (!slot->exists || slot->lost()) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("slot ", options.slot, slot->exists ? " is invalidated" : " does not exist",
                     ": nothing to replay; use `lottery-cdc-relay recover --slot-lost`")));
  }
  if (slot->active) {
    return Fail(absl::FailedPreconditionError(
        absl::StrCat("slot ", options.slot, " is in use by pid ", slot->active_pid,
                     " (a running relay already publishes what the slot holds); stop it first")));
  }
  config->end_lsn = slot->current_wal_lsn;
  if (!to_lsn.empty()) {
    auto parsed = ParseLsn(to_lsn);
    if (!parsed.ok()) return Fail(parsed.status());
    config->end_lsn = *parsed;
  }
  config->metrics_addr.clear();
  struct sigaction sa {};
  sa.sa_handler = OnReplayStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  metrics::Registry registry;
  absl::Status st = RunRelay(*config, g_replay_stop, registry);
  if (!st.ok()) return Fail(st);
  std::cout << "{\"replayed_to_lsn\":\"" << FormatLsn(config->end_lsn)
            << "\",\"interrupted\":" << (g_replay_stop ? "true" : "false") << "}" << std::endl;
  return 0;
}

}  // namespace

CommandMain SetupStatusCommand(CLI::App& command, const CommonOptions& options) {
  struct Flags {
    bool json = false;
    int64_t max_lag_bytes = 64ll << 20;
  };
  auto f = std::make_shared<Flags>();
  command.add_flag("--json", f->json, "one JSON object instead of text");
  command
      .add_option("--max-lag-bytes", f->max_lag_bytes,
                  "lag (server WAL - confirmed_flush_lsn) above which the verdict is lagging")
      ->capture_default_str();
  return [f, &options]() -> int {
    auto props = KafkaProperties(options);
    if (!props.ok()) return Fail(props.status());
    if (options.pg_dsn.empty())
      return Fail(absl::InvalidArgumentError("no --pg-dsn / LOTTERY_PG_DSN"));
    spdlog::set_level(spdlog::level::warn);
    StatusReport r = ReadStatus(
        options.pg_dsn, *props, options.checkpoint_topic, options.slot, options.publication,
        StatusLimits{f->max_lag_bytes, absl::Seconds(options.stall_after_s)});  // --stall-after
    std::cout << (f->json ? StatusJson(r) + "\n" : StatusText(r)) << std::flush;
    return static_cast<int>(r.verdict);
  };
}

CommandMain SetupReplayCommand(CLI::App& command, const CommonOptions& options) {
  struct Flags {
    bool dry_run = false;
    bool publish = false;
    std::string from_lsn, to_lsn;
  };
  auto f = std::make_shared<Flags>();
  command.add_flag("--dry-run", f->dry_run,
                   "print the events the slot holds as JSON lines, without consuming the slot");
  command.add_flag(
      "--publish", f->publish,
      "publish what the slot holds through the daemon's exactly-once path (deduped "
      "against the Kafka checkpoint), up to --to-lsn or the WAL end at start, then exit");
  command.add_option("--from-lsn", f->from_lsn,
                     "only transactions whose commit LSN is >= X/Y (dry run only)");
  command.add_option("--to-lsn", f->to_lsn, "only transactions whose commit LSN is <= X/Y");
  return [f, &options]() -> int {
    SetLogLevel(options);
    if (f->publish == f->dry_run) {
      return Fail(
          absl::InvalidArgumentError("replay needs exactly one of --dry-run and --publish"));
    }
    if (f->publish) {
      if (!f->from_lsn.empty()) {
        return Fail(absl::InvalidArgumentError(
            "--from-lsn cannot be used with --publish: publishing starts at the slot's confirmed "
            "position and skips what the checkpoint says Kafka has, so nothing is lost or "
            "repeated"));
      }
      return ReplayPublish(options, f->to_lsn);
    }
    PeekOptions po{options.slot, options.publication, 0, 0};
    for (auto [text, lsn] :
         {std::pair{&f->from_lsn, &po.from_lsn}, std::pair{&f->to_lsn, &po.to_lsn}}) {
      if (text->empty()) continue;
      auto parsed = ParseLsn(*text);
      if (!parsed.ok()) return Fail(parsed.status());
      *lsn = *parsed;
    }
    if (options.pg_dsn.empty())
      return Fail(absl::InvalidArgumentError("no --pg-dsn / LOTTERY_PG_DSN"));
    auto conn = pg::Connect(options.pg_dsn);
    if (!conn.ok()) return Fail(conn.status());
    auto events = PeekSlotEvents(conn->get(), po);
    if (!events.ok()) return Fail(events.status());
    for (const ReplayedEvent& e : *events) {
      auto line = ReplayedEventJson(e);
      if (!line.ok()) return Fail(line.status());
      std::cout << *line << "\n";
    }
    std::cout << std::flush;
    spdlog::info("{} events", events->size());
    return 0;
  };
}

CommandMain SetupDropCommand(CLI::App& command, const CommonOptions& options) {
  auto f = std::make_shared<DropOptions>();
  command.add_flag("--force", f->force, "terminate the walsender (relay) that holds the slot");
  command.add_flag("--delete-checkpoint", f->delete_checkpoint,
                   "also delete the relay's checkpoint in Kafka (tombstone)");
  return [f, &options]() -> int {
    SetLogLevel(options);
    auto props = KafkaProperties(options);
    if (!props.ok()) return Fail(props.status());
    DropOptions o = *f;
    o.pg_dsn = options.pg_dsn;
    o.kafka_props = *props;
    o.slot = options.slot;
    o.checkpoint_topic = options.checkpoint_topic;
    auto out = DropSlot(o);
    if (!out.ok()) return Fail(out.status());
    std::cout << *out << std::flush;
    return 0;
  };
}

CommandMain SetupRecoverCommand(CLI::App& command, const CommonOptions& options) {
  struct Flags {
    int64_t from_seq = -1;
    std::string since;
    bool slot_lost = false;
    std::string window = "1h";
    std::string skew = "5m";
    size_t batch = 1000;
    std::string wait = "2m";
    std::string run_id;
  };
  auto f = std::make_shared<Flags>();
  auto* from_seq = command.add_option("--from-seq", f->from_seq,
                                      "republish outbox rows with seq >= N that Kafka lost");
  auto* since = command.add_option("--since", f->since,
                                   "republish outbox rows with created_at >= TIME (timestamptz)");
  auto* slot_lost =
      command.add_flag("--slot-lost", f->slot_lost,
                       "re-create a dropped/invalidated slot and publish what it missed");
  slot_lost->excludes(from_seq)->excludes(since);
  command
      .add_option("--window", f->window,
                  "--slot-lost: candidates are rows created after checkpoint time - WINDOW "
                  "(e.g. 30m, 2h), or `all`")
      ->capture_default_str();
  command
      .add_option("--skew", f->skew, "clock skew allowed between PostgreSQL and Kafka timestamps")
      ->capture_default_str();
  command.add_option("--batch", f->batch, "--from-seq: events per Kafka transaction")
      ->capture_default_str();
  command
      .add_option("--wait-for-relay", f->wait,
                  "--from-seq: how long to wait for the running relay to reach the snapshot")
      ->capture_default_str();
  command.add_option("--run-id", f->run_id, "reuse the id of a crashed run (recovery-run header)");
  return [f, &options]() -> int {
    SetLogLevel(options);
    auto props = KafkaProperties(options);
    if (!props.ok()) return Fail(props.status());
    RecoverOptions o;
    o.pg_dsn = options.pg_dsn;
    o.kafka_props = *props;
    o.slot = options.slot;
    o.publication = options.publication;
    o.checkpoint_topic = options.checkpoint_topic;
    o.mode = f->slot_lost ? RecoverOptions::Mode::kSlotLost : RecoverOptions::Mode::kFromTable;
    if (f->from_seq >= 0) o.from_seq = f->from_seq;
    if (!f->since.empty()) o.since = f->since;
    auto duration = [](const std::string& s, absl::Duration& d) {
      return absl::ParseDuration(s == "0" ? "0s" : s, &d);
    };
    if (f->window == "all") {
      o.window.reset();
    } else {
      absl::Duration d;
      if (!duration(f->window, d))
        return Fail(absl::InvalidArgumentError("--window: e.g. 1h, 30m or all"));
      o.window = d;
    }
    if (!duration(f->skew, o.skew)) return Fail(absl::InvalidArgumentError("--skew: e.g. 5m"));
    if (!duration(f->wait, o.wait_for_relay))
      return Fail(absl::InvalidArgumentError("--wait-for-relay: e.g. 2m"));
    o.batch = f->batch;
    o.run_id = f->run_id;
    if (o.pg_dsn.empty()) return Fail(absl::InvalidArgumentError("no --pg-dsn / LOTTERY_PG_DSN"));
    auto r = Recover(o);
    if (!r.ok()) return Fail(r.status());
    std::cout << json::Dump(json::Json{{"run_id", r->run_id},
                                       {"consistent_point", FormatLsn(r->consistent_point)},
                                       {"candidates", r->candidates},
                                       {"already_in_kafka", r->already_in_kafka},
                                       {"published", r->published},
                                       {"first_seq", r->first_seq},
                                       {"last_seq", r->last_seq}})
              << "\n"
              << std::flush;
    return 0;
  };
}

}  // namespace lottery::cdc::recovery
