// PlanBatch: see batch_plan.h. No I/O here: values in, values out.
#include "lottery/writer/batch_plan.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <deque>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "lottery/common/json.h"
#include "lottery/common/status.h"
#include "lottery/domain/award.h"

namespace lottery::writer {

namespace d = lottery::domain;

ParsedBatch ParseBatch(const std::vector<RawMessage>& messages, const ParseOptions& options) {
  ParsedBatch out;
  for (const RawMessage& m : messages) {
    TopicPartition tp{m.topic, m.partition};
    out.first_offset.emplace(tp, m.offset);
    out.next_offset[tp] = std::max(out.next_offset[tp], m.offset + 1);
    ++out.consumed;
    ParseResult parsed = ParseStake(m, options);
    if (auto* s = std::get_if<Stake>(&parsed)) {
      out.stakes.push_back(BatchStake{&m, *s});
    } else if (auto* r = std::get_if<Rejection>(&parsed)) {
      out.rejections.emplace_back(&m, std::move(*r));
    } else {
      ++out.skipped;
      ++out.skipped_by_type[std::get<Skip>(parsed).event_type];
    }
  }
  return out;
}

int64_t GameLockKey(const d::Uuid& game) {
  uint64_t k = 0;
  for (int i = 0; i < 8; ++i) k = (k << 8) | game[i];
  return static_cast<int64_t>(k);
}

d::EntryStatus EntryStatusIn(const PlannedLottery& lottery, const d::Uuid& player) {
  switch (lottery.status) {
    case d::LotteryStatus::kInWaiting:
      return d::EntryStatus::kInWaiting;
    case d::LotteryStatus::kStarted:
      return d::EntryStatus::kStarted;
    case d::LotteryStatus::kFinished:
      break;
  }
  return lottery.award.has_value() && lottery.award->winner == player ? d::EntryStatus::kWinner
                                                                      : d::EntryStatus::kFinished;
}

absl::StatusOr<OutboxRow> EventRow(const IngestOptions& options,
                                   const google::protobuf::Message& msg, const d::Uuid& id,
                                   std::string aggregatetype, std::string aggregateid,
                                   std::string type, std::string topic) {
  OutboxRow row;
  row.id = d::FormatUuid(id);
  row.aggregatetype = std::move(aggregatetype);
  row.aggregateid = std::move(aggregateid);
  row.type = std::move(type);
  row.topic = std::move(topic);
  const std::string& full_name = msg.GetDescriptor()->full_name();
  if (options.event_format == EventFormat::kJson) {
    google::protobuf::util::JsonPrintOptions json_options;
    auto st = google::protobuf::util::MessageToJsonString(msg, &row.payload, json_options);
    if (!st.ok()) return absl::InternalError(absl::StrCat("json mapping: ", st.ToString()));
    row.content_type = absl::StrCat("application/json; messageType=", full_name);
  } else {
    if (!msg.SerializeToString(&row.payload))
      return absl::InternalError("protobuf serialize failed");
    row.content_type = absl::StrCat("application/x-protobuf; messageType=", full_name);
  }
  return row;
}

namespace {

struct UuidHash {
  size_t operator()(const d::Uuid& u) const {
    return absl::HashOf(std::string_view(reinterpret_cast<const char*>(u.data()), u.size()));
  }
};

// A lottery while the batch is planned: its final row, and what its draw needs.
struct Working {
  PlannedLottery row;
  d::Seed seed{};
  std::vector<d::Entry> entries;  // all, stored ones first, entry_no order
  absl::flat_hash_set<d::Uuid, UuidHash> players;
  bool changed = false;
};

class Planner {
 public:
  Planner(const BatchState& state, const ParsedBatch& batch, const PlanContext& context)
      : state_(state), batch_(batch), context_(context), options_(*context.options) {}

  absl::StatusOr<BatchPlan> Run() {
    for (const StoredLottery& s : state_.leftover) RETURN_IF_ERROR(DrawLeftover(s));
    std::map<d::Uuid, Working*> open_by_game;
    for (const StoredLottery& s : state_.open) open_by_game[s.game_id] = &Load(s);
    const std::vector<bool> first = FirstOccurrences();
    // Per game in lock order, stakes in consumption order.
    std::set<std::pair<int64_t, d::Uuid>> games;
    std::map<d::Uuid, std::vector<const BatchStake*>> by_game;
    for (size_t i = 0; i < batch_.stakes.size(); ++i) {
      if (!first[i]) continue;
      const BatchStake& s = batch_.stakes[i];
      games.emplace(GameLockKey(s.stake.game_id), s.stake.game_id);
      by_game[s.stake.game_id].push_back(&s);
    }
    for (const auto& [key, game] : games) {
      Working* current = open_by_game.count(game) ? open_by_game[game] : nullptr;
      for (const BatchStake* s : by_game[game]) {
        if (current == nullptr) {
          ASSIGN_OR_RETURN(current, Open(game));
        }
        RETURN_IF_ERROR(Join(*current, *s));
        if (current->row.player_count >= current->row.players_needed) {
          RETURN_IF_ERROR(Start(*current));
          current = nullptr;  // the next stake of this game opens the next lottery
        }
      }
    }
    for (Working& w : lotteries_) {
      if (w.changed) plan_.lotteries.push_back(w.row);
    }
    for (const auto& [msg, rejection] : batch_.rejections) Reject(*msg, rejection);
    for (const auto& [msg, rejection] : conflicts_) Reject(*msg, rejection);
    plan_.next_offsets = batch_.next_offset;
    BatchResult& r = plan_.result;
    r.consumed = batch_.consumed;
    r.skipped = batch_.skipped;
    r.skipped_by_type = batch_.skipped_by_type;
    r.entries = plan_.entries.size();
    r.rejected = plan_.rejections.size();
    r.next_offsets = plan_.next_offsets;
    return std::move(plan_);
  }

 private:
  Working& Load(const StoredLottery& s) {
    Working& w = lotteries_.emplace_back();
    w.row.id = s.id;
    w.row.game_id = s.game_id;
    w.row.status = s.status;
    w.row.players_needed = s.players_needed;
    w.row.rule = s.rule;
    w.seed = s.seed;
    w.entries = s.entries;
    for (const d::Entry& e : s.entries) w.players.insert(e.player_id);
    w.row.player_count = static_cast<int>(w.players.size());
    w.row.entry_count = static_cast<int>(s.entries.size());
    return w;
  }

  // Which stakes become entries: the first of each event id not stored before. Repeats are
  // counted (the same stake again) or rejected (another stake under the same id).
  std::vector<bool> FirstOccurrences() {
    std::vector<Stake> in_order;
    in_order.reserve(batch_.stakes.size());
    for (const BatchStake& s : batch_.stakes) in_order.push_back(s.stake);
    const std::vector<RepeatVerdict> verdicts = ClassifyRepeats(in_order, state_.stored);
    std::vector<bool> first(batch_.stakes.size(), false);
    for (size_t i = 0; i < verdicts.size(); ++i) {
      switch (verdicts[i].occurrence) {
        case Occurrence::kFirst:
          first[i] = true;
          break;
        case Occurrence::kDuplicate:
          ++plan_.result.duplicates;
          break;
        case Occurrence::kConflict:
          conflicts_.emplace_back(
              batch_.stakes[i].msg,
              Rejection{verdicts[i].reason, d::FormatUuid(batch_.stakes[i].stake.event_id)});
          ++plan_.result.conflicting_duplicates;
          break;
      }
    }
    return first;
  }

  absl::StatusOr<Working*> Open(const d::Uuid& game) {
    if (options_.seed_keys == nullptr)
      return absl::FailedPreconditionError("no seed key configured");
    Working& w = lotteries_.emplace_back();
    w.changed = true;
    w.row.id = context_.new_lottery_id();
    w.row.game_id = game;
    w.row.is_new = true;
    auto rule = state_.rules.by_game.find(game);
    w.row.rule = rule != state_.rules.by_game.end() ? rule->second : state_.rules.default_rule;
    w.row.players_needed = w.row.rule.players_needed;
    // Derived, never stored: only the key id and the commitment reach the database.
    w.row.seed_key_id = options_.seed_keys->active_id();
    ASSIGN_OR_RETURN(w.seed, options_.seed_keys->SeedFor(w.row.seed_key_id, w.row.id));
    w.row.commitment = d::Commitment(w.seed);
    const std::string lid = d::FormatUuid(w.row.id);
    ASSIGN_OR_RETURN(
        OutboxRow created,
        EventRow(options_,
                 d::BuildLotteryCreated(w.row.id, game, w.row.commitment, w.row.rule, context_.now),
                 d::UuidV5(kDerivedIdNamespace, "lotteryCreated/" + lid), "lottery", lid,
                 "lotteryCreated", options_.lottery_topic));
    plan_.outbox.push_back(std::move(created));
    ++plan_.result.lotteries_opened;
    return &w;
  }

  absl::Status Join(Working& w, const BatchStake& s) {
    if (w.row.status != d::LotteryStatus::kInWaiting) {
      return absl::InternalError(absl::StrCat("plan: a stake joins lottery ",
                                              d::FormatUuid(w.row.id), ", which is ",
                                              std::string(d::ToString(w.row.status))));
    }
    w.changed = true;
    if (w.players.insert(s.stake.player_id).second) ++w.row.player_count;
    w.entries.push_back(d::Entry{s.stake.player_id, s.stake.stake_minor});
    PlannedEntry& e = plan_.entries.emplace_back();
    e.id = s.stake.event_id;
    e.lottery_id = w.row.id;
    e.player_id = s.stake.player_id;
    e.game_id = s.stake.game_id;
    e.stake_minor = s.stake.stake_minor;
    e.entry_no = ++w.row.entry_count;
    e.source = s.msg;
    return absl::OkStatus();
  }

  absl::Status Move(Working& w, d::LotteryStatus to) {
    absl::Status legal = d::CheckTransition(w.row.status, to);
    if (!legal.ok()) {
      return absl::InternalError(
          absl::StrCat("plan: lottery ", d::FormatUuid(w.row.id), ": ", legal.message()));
    }
    w.row.status = to;
    w.changed = true;
    if (!w.row.is_new) w.row.stored_entries_change = true;
    return absl::OkStatus();
  }

  // A lottery that filled: started, and drawn here, in memory, so its rows are written once in
  // their final state.
  absl::Status Start(Working& w) {
    RETURN_IF_ERROR(Move(w, d::LotteryStatus::kStarted));
    ++plan_.result.lotteries_started;
    return Draw(w);
  }

  absl::Status DrawLeftover(const StoredLottery& s) { return Draw(Load(s)); }

  // The draw of a started lottery; its lotteryStarted and lotteryAwardCreated rows. A draw the
  // domain refuses (bad data in a stored lottery) leaves it started: visible, retried later.
  absl::Status Draw(Working& w) {
    const std::string lid = d::FormatUuid(w.row.id);
    auto participants = d::ParticipantsFromEntries(w.row.rule.mode, w.entries);
    const d::Uuid award_id = d::UuidV5(kDerivedIdNamespace, "award/" + lid);
    absl::StatusOr<lottery::v1::AwardCreated> award =
        participants.ok()
            ? d::DrawAward(award_id, w.row.id, w.row.game_id, w.seed, w.row.rule.mode,
                           *participants, w.row.rule.policy, w.row.rule.bps, context_.now)
            : absl::StatusOr<lottery::v1::AwardCreated>(participants.status());
    if (!award.ok()) {
      ++plan_.result.draw_failures;
      plan_.draw_failures.push_back(absl::StrCat("lottery ", lid, ": ", award.status().message()));
      return absl::OkStatus();
    }
    auto started = d::BuildLotteryStarted(w.row.id, w.row.game_id, *participants,
                                          d::EntriesDigest(*participants), context_.now);
    ASSIGN_OR_RETURN(
        OutboxRow started_row,
        EventRow(options_, started, d::UuidV5(kDerivedIdNamespace, "lotteryStarted/" + lid),
                 "lottery", lid, "lotteryStarted", options_.lottery_topic));
    plan_.outbox.push_back(std::move(started_row));
    ASSIGN_OR_RETURN(
        OutboxRow award_row,
        EventRow(options_, *award, d::UuidV5(kDerivedIdNamespace, "awardCreated/" + lid),
                 "lottery_award", award->player_id(), "lotteryAwardCreated", options_.award_topic));
    plan_.outbox.push_back(std::move(award_row));
    ASSIGN_OR_RETURN(d::Uuid winner, d::ParseUuid(award->player_id()));
    w.row.award = PlannedAward{award_id, w.row.id, winner, award->win_sum_minor()};
    RETURN_IF_ERROR(Move(w, d::LotteryStatus::kFinished));
    ++plan_.result.lotteries_finished;
    ++plan_.result.awards;
    return absl::OkStatus();
  }

  // A rejected record: its evidence, and its DLQ row (the bounded raw prefix as payload, the
  // evidence in headers).
  void Reject(const RawMessage& m, const Rejection& rej) {
    PlannedRejection& r = plan_.rejections.emplace_back();
    r.source = &m;
    r.rejection = rej;
    r.raw = KeepRaw(m.value);
    OutboxRow row;
    const std::string where = absl::StrCat(m.topic, "/", m.partition, "/", m.offset);
    row.id = d::FormatUuid(d::UuidV5(kDerivedIdNamespace, "dlq/" + where));
    row.aggregatetype = "stake";
    row.aggregateid = rej.event_id.empty() ? where : rej.event_id;
    row.type = "stakeRejected";
    row.topic = options_.dlq_topic;
    // Fixed: a header the stake's producer controls must not change how the row is decoded.
    row.content_type = "application/octet-stream";
    // Header values are strings (the relay turns each into a Kafka header).
    json::Json headers{{"reason", rej.reason},
                       {"source-topic", m.topic},
                       {"source-partition", absl::StrCat(m.partition)},
                       {"source-offset", absl::StrCat(m.offset)},
                       {"raw-length", absl::StrCat(r.raw.length)},
                       {"raw-sha256", r.raw.sha256_hex},
                       {"raw-truncated", r.raw.truncated() ? "true" : "false"}};
    for (const auto& [name, value] : m.headers) {
      if (value.has_value() && (name == "uuid" || name == "content-type")) {
        headers[absl::StrCat("source-", name)] = Sanitize(*value, 200);
      }
    }
    row.headers_json = json::Dump(headers);
    row.payload = std::string(r.raw.kept);
    plan_.outbox.push_back(std::move(row));
  }

  const BatchState& state_;
  const ParsedBatch& batch_;
  const PlanContext& context_;
  const IngestOptions& options_;
  std::deque<Working> lotteries_;  // stable addresses; stored ones first
  std::vector<RejectedRecord> conflicts_;
  BatchPlan plan_;
};

}  // namespace

absl::StatusOr<BatchPlan> PlanBatch(const BatchState& state, const ParsedBatch& batch,
                                    const PlanContext& context) {
  if (context.options == nullptr || !context.new_lottery_id) {
    return absl::InvalidArgumentError("PlanBatch: a context without options or lottery ids");
  }
  Planner planner(state, batch, context);
  ASSIGN_OR_RETURN(BatchPlan plan, planner.Run());
  // Entries take the final status of their lottery, known only once the batch is planned.
  std::map<d::Uuid, const PlannedLottery*> by_id;
  for (const PlannedLottery& l : plan.lotteries) by_id[l.id] = &l;
  for (PlannedEntry& e : plan.entries)
    e.status = EntryStatusIn(*by_id.at(e.lottery_id), e.player_id);
  return plan;
}

}  // namespace lottery::writer
