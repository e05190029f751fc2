// ApplyBatch: see ingest.h for the contract. Round trips per batch are constant (about 15
// statements whatever the batch size): every write is one set-based statement over unnest()ed
// array parameters.
#include "lottery/writer/ingest.h"

#include <algorithm>
#include <deque>
#include <map>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "internal.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"
#include "lottery/domain/award.h"
#include "lottery/domain/lottery.h"

namespace lottery::writer {

namespace d = lottery::domain;
using internal::ArrayLiteral;
using internal::OutboxRow;

namespace {

struct UuidHash {
  size_t operator()(const d::Uuid& u) const {
    return absl::HashOf(std::string_view(reinterpret_cast<const char*>(u.data()), u.size()));
  }
};

// A stake of the batch with where it came from.
struct Item {
  const RawMessage* msg;
  Stake stake;
};

// A lottery as the plan sees it: loaded (open in the database) or created by this batch.
struct PlanLottery {
  d::Uuid id;
  d::Uuid game_id;
  bool is_new = false;
  bool changed = false;
  int players_needed = 0;
  int player_count = 0;
  int entry_count = 0;
  bool started = false;
  d::GameRule rule;  // mode, policy, bps (players_needed above)
  d::Seed seed{};    // in memory only: derived from seed_key_id (or an older row's stored seed)
  std::string seed_key_id;  // new lotteries
  d::Digest commitment{};
  std::vector<d::Entry> entries;  // all entries in entry_no order (stored ones first)
  absl::flat_hash_set<d::Uuid, UuidHash> players;
  std::optional<internal::DrawOutput> drawn;
};

// An entry this batch inserts.
struct PlannedEntry {
  const Item* item;
  const PlanLottery* lottery;
  int entry_no;
};

absl::Status Rollback(PGconn* conn) { return pg::ExecCommand(conn, "ROLLBACK"); }

// Runs the statements between BEGIN and COMMIT. Returns the result; on a fence mismatch
// result.fenced is non-empty and the caller rolls back.
absl::Status ApplyInTransaction(PGconn* conn, const BatchInput& input, const IngestOptions& options,
                                BatchResult& result) {
  // --- Parse (pure) and group.
  std::map<TopicPartition, int64_t> first_offset, next_offset;
  std::vector<Item> stakes;
  std::vector<internal::RejectedRecord> rejections;
  for (const RawMessage& m : input.messages) {
    TopicPartition tp{m.topic, m.partition};
    first_offset.emplace(tp, m.offset);
    next_offset[tp] = std::max(next_offset[tp], m.offset + 1);
    ++result.consumed;
    ParseResult parsed = ParseStake(m, options.parse);
    if (auto* s = std::get_if<Stake>(&parsed)) {
      stakes.push_back(Item{&m, *s});
    } else if (auto* r = std::get_if<Rejection>(&parsed)) {
      rejections.emplace_back(&m, std::move(*r));
    } else {
      ++result.skipped;
      ++result.skipped_by_type[std::get<Skip>(parsed).event_type];
    }
  }
  if (first_offset.empty()) return absl::OkStatus();

  // --- Fence: claim absent offset rows, then lock and compare every partition's row.
  {
    ArrayLiteral topics, parts, offs;
    ArrayLiteral all_topics, all_parts;
    for (const auto& [tp, first] : first_offset) {
      all_topics.Add(tp.first);
      all_parts.Add(tp.second);
      auto it = input.expected.find(tp);
      if (it == input.expected.end() || !it->second.has_value()) {
        topics.Add(tp.first);
        parts.Add(tp.second);
        offs.Add(first);
      }
    }
    if (topics.size() > 0) {
      RETURN_IF_ERROR(pg::ExecCommand(
          conn,
          "INSERT INTO consumer_offset (consumer_group, topic, partition, next_offset) "
          "SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[]) ON CONFLICT DO NOTHING",
          {pg::Param::Text(options.consumer_group), pg::Param::Text(topics.Finish()),
           pg::Param::Text(parts.Finish()), pg::Param::Text(offs.Finish())}));
    }
    ASSIGN_OR_RETURN(
        pg::ResultPtr rows,
        pg::Exec(
            conn,
            "SELECT c.topic, c.partition, c.next_offset FROM consumer_offset c "
            "JOIN unnest($2::text[], $3::int[]) AS u(t, p) ON c.topic = u.t AND c.partition = u.p "
            "WHERE c.consumer_group = $1 ORDER BY c.topic, c.partition FOR UPDATE OF c",
            {pg::Param::Text(options.consumer_group), pg::Param::Text(all_topics.Finish()),
             pg::Param::Text(all_parts.Finish())}));
    for (int i = 0; i < PQntuples(rows.get()); ++i) {
      TopicPartition tp{std::string(pg::Value(rows.get(), i, 0)),
                        std::stoi(std::string(pg::Value(rows.get(), i, 1)))};
      int64_t stored = std::stoll(std::string(pg::Value(rows.get(), i, 2)));
      auto it = input.expected.find(tp);
      int64_t expected =
          (it != input.expected.end() && it->second.has_value()) ? *it->second : first_offset[tp];
      if (stored != expected) result.fenced[tp] = stored;
    }
    if (!result.fenced.empty()) return absl::OkStatus();
  }

  // --- Lock the batch's games in ascending key order (the same order in every writer).
  std::set<std::pair<int64_t, d::Uuid>> games;
  for (const Item& it : stakes)
    games.emplace(internal::GameLockKey(it.stake.game_id), it.stake.game_id);
  ArrayLiteral game_keys, game_ids;
  for (const auto& [key, game] : games) {
    game_keys.Add(key);
    game_ids.AddUuid(game);
  }
  const std::string game_ids_text = game_ids.Finish();
  std::vector<OutboxRow> outbox;
  std::vector<d::Uuid> to_draw;

  if (!games.empty()) {
    RETURN_IF_ERROR(
        pg::ExecCommand(conn, "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS u(k)",
                        {pg::Param::Text(game_keys.Finish())}));

    // --- Read the state of these games.
    ASSIGN_OR_RETURN(internal::GameRules rules,
                     internal::LoadGameRules(conn, game_ids_text, options.default_players_needed));
    const std::map<d::Uuid, d::GameRule>& rule_by_game = rules.by_game;

    ASSIGN_OR_RETURN(pg::ResultPtr open,
                     pg::Exec(conn,
                              "SELECT id, game_id, players_needed, player_count, entry_count, "
                              "draw_mode, prize_policy, "
                              "prize_bps, server_seed, seed_key_id, commitment FROM lottery "
                              "WHERE game_id = ANY($1::uuid[]) AND status = 'in_waiting'",
                              {pg::Param::Text(game_ids_text)}));
    std::deque<PlanLottery> lotteries;        // stable addresses
    std::map<d::Uuid, PlanLottery*> current;  // game -> its open lottery
    std::map<d::Uuid, PlanLottery*> by_id;
    ArrayLiteral open_ids;
    for (int i = 0; i < PQntuples(open.get()); ++i) {
      const PGresult* r = open.get();
      PlanLottery& l = lotteries.emplace_back();
      ASSIGN_OR_RETURN(l.id, d::ParseUuid(pg::Value(r, i, 0)));
      ASSIGN_OR_RETURN(l.game_id, d::ParseUuid(pg::Value(r, i, 1)));
      l.players_needed = std::stoi(std::string(pg::Value(r, i, 2)));
      l.player_count = std::stoi(std::string(pg::Value(r, i, 3)));
      l.entry_count = std::stoi(std::string(pg::Value(r, i, 4)));
      ASSIGN_OR_RETURN(l.rule.mode, d::ParseDrawMode(pg::Value(r, i, 5)));
      ASSIGN_OR_RETURN(l.rule.policy, d::ParsePrizePolicy(pg::Value(r, i, 6)));
      l.rule.bps = static_cast<uint32_t>(std::stoul(std::string(pg::Value(r, i, 7))));
      ASSIGN_OR_RETURN(l.seed, internal::StoredLotterySeed(options, l.id, r, i, /*seed_col=*/8,
                                                           /*key_id_col=*/9,
                                                           /*commitment_col=*/10));
      open_ids.AddUuid(l.id);
      current[l.game_id] = &l;
      by_id[l.id] = &l;
    }
    if (open_ids.size() > 0) {
      ASSIGN_OR_RETURN(pg::ResultPtr prior,
                       pg::Exec(conn,
                                "SELECT lottery_id, player_id, stake FROM lottery_entry "
                                "WHERE lottery_id = ANY($1::uuid[]) ORDER BY lottery_id, entry_no",
                                {pg::Param::Text(open_ids.Finish())}));
      for (int i = 0; i < PQntuples(prior.get()); ++i) {
        ASSIGN_OR_RETURN(d::Uuid lid, d::ParseUuid(pg::Value(prior.get(), i, 0)));
        ASSIGN_OR_RETURN(d::Uuid pid, d::ParseUuid(pg::Value(prior.get(), i, 1)));
        PlanLottery* l = by_id[lid];
        l->entries.push_back(d::Entry{pid, std::stoll(std::string(pg::Value(prior.get(), i, 2)))});
        l->players.insert(pid);
      }
    }
    // Started lotteries of these games left undrawn (older version, failed draw).
    ASSIGN_OR_RETURN(
        pg::ResultPtr leftover,
        pg::Exec(conn,
                 "SELECT id FROM lottery WHERE status = 'started' AND game_id = ANY($1::uuid[])",
                 {pg::Param::Text(game_ids_text)}));
    for (int i = 0; i < PQntuples(leftover.get()); ++i) {
      ASSIGN_OR_RETURN(d::Uuid lid, d::ParseUuid(pg::Value(leftover.get(), i, 0)));
      to_draw.push_back(lid);
    }

    // Repeats of an event id: already stored, or earlier in the batch (repeats.h).
    std::vector<Stake> in_order;
    in_order.reserve(stakes.size());
    for (const Item& it : stakes) in_order.push_back(it.stake);
    ASSIGN_OR_RETURN(StoredStakes stored, internal::LoadStoredStakes(conn, in_order));
    const std::vector<RepeatVerdict> verdicts = ClassifyRepeats(in_order, stored);
    absl::flat_hash_set<const Item*> repeated;
    for (size_t i = 0; i < stakes.size(); ++i) {
      if (verdicts[i].occurrence == Occurrence::kFirst) continue;
      repeated.insert(&stakes[i]);
      if (verdicts[i].occurrence == Occurrence::kDuplicate) {
        ++result.duplicates;
        continue;
      }
      rejections.emplace_back(
          stakes[i].msg, Rejection{verdicts[i].reason, d::FormatUuid(stakes[i].stake.event_id)});
      ++result.conflicting_duplicates;
    }

    // --- Plan: per game in lock order, stakes in consumption order. A lottery that fills is
    // drawn right here, in memory, so its rows are written once in their final state.
    std::map<d::Uuid, std::vector<const Item*>> by_game;
    for (const Item& it : stakes) by_game[it.stake.game_id].push_back(&it);
    std::vector<PlannedEntry> planned;
    planned.reserve(stakes.size());
    const absl::Time now = absl::Now();
    for (const auto& [key, game] : games) {
      PlanLottery* cur = nullptr;
      if (auto f = current.find(game); f != current.end()) cur = f->second;
      for (const Item* it : by_game[game]) {
        if (repeated.contains(it)) continue;
        if (cur == nullptr) {
          PlanLottery& l = lotteries.emplace_back();
          l.id = d::NewRandomUuid();
          l.game_id = game;
          l.is_new = true;
          auto rf = rule_by_game.find(game);
          l.rule = rf != rule_by_game.end() ? rf->second : rules.default_rule;
          l.players_needed = l.rule.players_needed;
          // Derived, never stored: only the key id and the commitment reach the database.
          if (options.seed_keys == nullptr)
            return absl::FailedPreconditionError("no seed key configured");
          l.seed_key_id = options.seed_keys->active_id();
          ASSIGN_OR_RETURN(l.seed, options.seed_keys->SeedFor(l.seed_key_id, l.id));
          l.commitment = d::Commitment(l.seed);
          const std::string lid = d::FormatUuid(l.id);
          ASSIGN_OR_RETURN(
              OutboxRow row,
              internal::EventRow(options,
                                 d::BuildLotteryCreated(l.id, l.game_id, l.commitment, l.rule, now),
                                 d::UuidV5(kDerivedIdNamespace, "lotteryCreated/" + lid), "lottery",
                                 lid, "lotteryCreated", options.lottery_topic));
          outbox.push_back(std::move(row));
          cur = &l;
          ++result.lotteries_opened;
        }
        cur->changed = true;
        if (cur->players.insert(it->stake.player_id).second) ++cur->player_count;
        cur->entries.push_back(d::Entry{it->stake.player_id, it->stake.stake_minor});
        planned.push_back(PlannedEntry{it, cur, ++cur->entry_count});
        ++result.entries;
        if (cur->player_count >= cur->players_needed) {
          cur->started = true;
          ++result.lotteries_started;
          internal::DrawInput in{cur->id,          cur->game_id,         cur->rule.mode,
                                 cur->rule.policy, cur->rule.bps,        cur->seed,
                                 cur->entries,     /*emit_started=*/true};
          ASSIGN_OR_RETURN(cur->drawn, internal::DrawInMemory(in, options, outbox, result));
          cur = nullptr;  // the next stake of this game opens the next lottery
        }
      }
    }

    // --- Write: loaded lotteries first (so one that started leaves the unique index before a
    // new one of the same game enters it), then new lotteries, then entries and awards.
    auto status_of = [](const PlanLottery& l) {
      return l.drawn.has_value() ? "finished" : l.started ? "started" : "in_waiting";
    };
    ArrayLiteral u_id, u_pc, u_ec, u_st, w_lottery, w_winner;
    ArrayLiteral n_id, n_game, n_st, n_needed, n_pc, n_ec, n_mode, n_policy, n_bps, n_key, n_commit;
    ArrayLiteral a_id, a_lottery, a_player, a_sum;
    for (const PlanLottery& l : lotteries) {
      if (!l.changed) continue;
      if (l.drawn.has_value()) {
        a_id.AddUuid(l.drawn->award_id);
        a_lottery.AddUuid(l.id);
        a_player.AddUuid(l.drawn->winner);
        a_sum.Add(l.drawn->win_sum);
      }
      if (!l.is_new) {
        u_id.AddUuid(l.id);
        u_pc.Add(l.player_count);
        u_ec.Add(l.entry_count);
        u_st.Add(status_of(l));
        if (l.drawn.has_value()) {
          w_lottery.AddUuid(l.id);
          w_winner.AddUuid(l.drawn->winner);
        }
        continue;
      }
      n_id.AddUuid(l.id);
      n_game.AddUuid(l.game_id);
      n_st.Add(status_of(l));
      n_needed.Add(l.players_needed);
      n_pc.Add(l.player_count);
      n_ec.Add(l.entry_count);
      n_mode.Add(d::ToString(l.rule.mode));
      n_policy.Add(d::ToString(l.rule.policy));
      n_bps.Add(static_cast<int64_t>(l.rule.bps));
      n_key.Add(l.seed_key_id);
      n_commit.AddBytea(std::string_view(reinterpret_cast<const char*>(l.commitment.data()),
                                         l.commitment.size()));
    }
    if (u_id.size() > 0) {
      RETURN_IF_ERROR(pg::ExecCommand(
          conn,
          "UPDATE lottery l SET player_count = u.pc, entry_count = u.ec, status = u.st, "
          "started_at = CASE WHEN u.st <> 'in_waiting' THEN now() END, "
          "finished_at = CASE WHEN u.st = 'finished' THEN now() END "
          "FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[]) AS u(id, pc, ec, st) WHERE "
          "l.id = u.id",
          {pg::Param::Text(u_id.Finish()), pg::Param::Text(u_pc.Finish()),
           pg::Param::Text(u_ec.Finish()), pg::Param::Text(u_st.Finish())}));
    }
    if (n_id.size() > 0) {
      RETURN_IF_ERROR(pg::ExecCommand(
          conn,
          "INSERT INTO lottery (id, game_id, status, players_needed, player_count, entry_count, "
          "draw_mode, "
          "prize_policy, prize_bps, seed_key_id, commitment, started_at, finished_at) "
          "SELECT id, g, st, pn, pc, ec, dm, pp, bps, k, cm, CASE WHEN st <> 'in_waiting' THEN "
          "now() END, "
          "CASE WHEN st = 'finished' THEN now() END "
          "FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::int[], $6::int[], "
          "$7::text[], "
          "$8::text[], $9::int[], $10::text[], $11::bytea[]) AS u(id, g, st, pn, pc, ec, dm, pp, "
          "bps, k, cm)",
          {pg::Param::Text(n_id.Finish()), pg::Param::Text(n_game.Finish()),
           pg::Param::Text(n_st.Finish()), pg::Param::Text(n_needed.Finish()),
           pg::Param::Text(n_pc.Finish()), pg::Param::Text(n_ec.Finish()),
           pg::Param::Text(n_mode.Finish()), pg::Param::Text(n_policy.Finish()),
           pg::Param::Text(n_bps.Finish()), pg::Param::Text(n_key.Finish()),
           pg::Param::Text(n_commit.Finish())}));
    }
    if (w_lottery.size() > 0) {
      // Stored entries of loaded lotteries drawn here (this batch's entries are inserted final).
      RETURN_IF_ERROR(pg::ExecCommand(
          conn,
          "UPDATE lottery_entry e SET status = CASE WHEN e.player_id = u.w THEN 'winner' ELSE "
          "'finished' END "
          "FROM unnest($1::uuid[], $2::uuid[]) AS u(l, w) WHERE e.lottery_id = u.l",
          {pg::Param::Text(w_lottery.Finish()), pg::Param::Text(w_winner.Finish())}));
    }
    if (!planned.empty()) {
      using B = internal::BinaryArray;
      B e_id(B::kUuid), e_lottery(B::kUuid), e_player(B::kUuid), e_game(B::kUuid),
          e_stake(B::kInt8), e_status(B::kText), e_no(B::kInt4), e_topic(B::kText),
          e_part(B::kInt4), e_off(B::kInt8);
      for (const PlannedEntry& pe : planned) {
        const PlanLottery& l = *pe.lottery;
        const Stake& st = pe.item->stake;
        e_id.AddUuid(st.event_id);
        e_lottery.AddUuid(l.id);
        e_player.AddUuid(st.player_id);
        e_game.AddUuid(st.game_id);
        e_stake.AddInt8(st.stake_minor);
        e_status.AddBytes(l.drawn.has_value()
                              ? (l.drawn->winner == st.player_id ? "winner" : "finished")
                          : l.started ? "started"
                                      : "in_waiting");
        e_no.AddInt4(pe.entry_no);
        e_topic.AddBytes(pe.item->msg->topic);
        e_part.AddInt4(pe.item->msg->partition);
        e_off.AddInt8(pe.item->msg->offset);
      }
      ASSIGN_OR_RETURN(
          pg::ResultPtr inserted,
          pg::Exec(conn,
                   "WITH ins AS (INSERT INTO lottery_entry (id, lottery_id, player_id, game_id, "
                   "stake, status, "
                   "entry_no, source_topic, source_partition, source_offset) "
                   "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], "
                   "$5::bigint[], $6::text[], "
                   "$7::int[], $8::text[], $9::int[], $10::bigint[]) ON CONFLICT (id) DO NOTHING "
                   "RETURNING 1) "
                   "SELECT count(*) FROM ins",
                   {pg::Param::Bytes(e_id.Finish()), pg::Param::Bytes(e_lottery.Finish()),
                    pg::Param::Bytes(e_player.Finish()), pg::Param::Bytes(e_game.Finish()),
                    pg::Param::Bytes(e_stake.Finish()), pg::Param::Bytes(e_status.Finish()),
                    pg::Param::Bytes(e_no.Finish()), pg::Param::Bytes(e_topic.Finish()),
                    pg::Param::Bytes(e_part.Finish()), pg::Param::Bytes(e_off.Finish())}));
      if (std::stoll(std::string(pg::Value(inserted.get(), 0, 0))) !=
          static_cast<int64_t>(planned.size())) {
        // The same event id arrived for another game through another writer meanwhile: the
        // plan's counts are off. Redo: the id is then seen as a duplicate.
        return absl::AbortedError("entry id inserted concurrently under another game; redo");
      }
    }
    if (a_id.size() > 0) {
      RETURN_IF_ERROR(
          pg::ExecCommand(conn,
                          "INSERT INTO lottery_award (id, lottery_id, player_id, win_sum) "
                          "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[])",
                          {pg::Param::Text(a_id.Finish()), pg::Param::Text(a_lottery.Finish()),
                           pg::Param::Text(a_player.Finish()), pg::Param::Text(a_sum.Finish())}));
    }
  }

  // --- Lotteries of these games left started by an older version or a failed draw.
  RETURN_IF_ERROR(internal::DrawLotteries(conn, to_draw, {}, options, outbox, result));

  // --- Rejections: rejected_stake rows and DLQ outbox rows carrying a bounded prefix.
  RETURN_IF_ERROR(internal::WriteRejections(conn, rejections, options, outbox));
  result.rejected += rejections.size();
  RETURN_IF_ERROR(internal::InsertOutbox(conn, outbox));

  // --- Offsets: the next offset to read, per partition.
  ArrayLiteral o_topic, o_part, o_next;
  for (const auto& [tp, next] : next_offset) {
    o_topic.Add(tp.first);
    o_part.Add(tp.second);
    o_next.Add(next);
  }
  RETURN_IF_ERROR(
      pg::ExecCommand(conn,
                      "UPDATE consumer_offset c SET next_offset = u.n, updated_at = now() "
                      "FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, n) "
                      "WHERE c.consumer_group = $1 AND c.topic = u.t AND c.partition = u.p",
                      {pg::Param::Text(options.consumer_group), pg::Param::Text(o_topic.Finish()),
                       pg::Param::Text(o_part.Finish()), pg::Param::Text(o_next.Finish())}));
  result.next_offsets = std::move(next_offset);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<BatchResult> ApplyBatch(PGconn* conn, const BatchInput& input,
                                       const IngestOptions& options) {
  BatchResult result;
  if (input.messages.empty()) return result;
  RETURN_IF_ERROR(pg::ExecCommand(conn, "BEGIN"));
  absl::Status st = ApplyInTransaction(conn, input, options, result);
  if (!st.ok() || !result.fenced.empty()) {
    // A failed transaction is rolled back; when the connection is gone the server already did.
    (void)Rollback(conn);
    if (!st.ok()) return st;
    BatchResult fenced;
    fenced.fenced = std::move(result.fenced);
    return fenced;
  }
  RETURN_IF_ERROR(pg::ExecCommand(conn, "COMMIT"));
  result.committed = true;
  return result;
}

absl::StatusOr<std::map<TopicPartition, int64_t>> ReadOffsets(
    PGconn* conn, const std::string& consumer_group,
    const std::vector<TopicPartition>& partitions) {
  std::map<TopicPartition, int64_t> out;
  if (partitions.empty()) return out;
  ArrayLiteral topics, parts;
  for (const auto& [t, p] : partitions) {
    topics.Add(t);
    parts.Add(p);
  }
  ASSIGN_OR_RETURN(
      pg::ResultPtr rows,
      pg::Exec(
          conn,
          "SELECT c.topic, c.partition, c.next_offset FROM consumer_offset c "
          "JOIN unnest($2::text[], $3::int[]) AS u(t, p) ON c.topic = u.t AND c.partition = u.p "
          "WHERE c.consumer_group = $1",
          {pg::Param::Text(consumer_group), pg::Param::Text(topics.Finish()),
           pg::Param::Text(parts.Finish())}));
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    out[{std::string(pg::Value(rows.get(), i, 0)),
         std::stoi(std::string(pg::Value(rows.get(), i, 1)))}] =
        std::stoll(std::string(pg::Value(rows.get(), i, 2)));
  }
  return out;
}

absl::StatusOr<int> DrawLeftoverLotteries(PGconn* conn, const IngestOptions& options) {
  ASSIGN_OR_RETURN(
      pg::ResultPtr rows,
      pg::Exec(conn,
               "SELECT id, game_id FROM lottery WHERE status = 'started' ORDER BY started_at"));
  int finished = 0;
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    ASSIGN_OR_RETURN(d::Uuid lid, d::ParseUuid(pg::Value(rows.get(), i, 0)));
    ASSIGN_OR_RETURN(d::Uuid gid, d::ParseUuid(pg::Value(rows.get(), i, 1)));
    RETURN_IF_ERROR(pg::ExecCommand(conn, "BEGIN"));
    BatchResult result;
    std::vector<OutboxRow> outbox;
    absl::Status st =
        pg::ExecCommand(conn, "SELECT pg_advisory_xact_lock($1::bigint)",
                        {pg::Param::Text(std::to_string(internal::GameLockKey(gid)))});
    if (st.ok()) st = internal::DrawLotteries(conn, {lid}, {}, options, outbox, result);
    if (st.ok()) st = internal::InsertOutbox(conn, outbox);
    if (st.ok()) st = pg::ExecCommand(conn, "COMMIT");
    if (!st.ok()) {
      (void)Rollback(conn);
      return st;
    }
    finished += static_cast<int>(result.lotteries_finished);
  }
  return finished;
}

absl::StatusOr<int64_t> PruneOutbox(PGconn* conn, int64_t retention_seconds, int limit) {
  ASSIGN_OR_RETURN(
      pg::ResultPtr r,
      pg::Exec(
          conn,
          "WITH del AS (DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox "
          "WHERE created_at < now() - make_interval(secs => $1::bigint) ORDER BY seq LIMIT $2) "
          "RETURNING 1) SELECT count(*) FROM del",
          {pg::Param::Text(std::to_string(retention_seconds)),
           pg::Param::Text(std::to_string(limit))}));
  return std::stoll(std::string(pg::Value(r.get(), 0, 0)));
}

}  // namespace lottery::writer
