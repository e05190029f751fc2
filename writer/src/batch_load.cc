// The reads of the ingest transaction: the fence, the game locks, and the BatchState a plan is
// made from (batch_store.h).
#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "batch_store.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"
#include "pg_columns.h"

namespace lottery::writer::store {

namespace d = lottery::domain;

namespace {

constexpr char kNilUuid[] = "00000000-0000-0000-0000-000000000000";

absl::StatusOr<d::Uuid> UuidAt(const PGresult* r, int row, int col) {
  return d::ParseUuid(pg::Value(r, row, col));
}

Column UuidColumn(const std::vector<d::Uuid>& ids) {
  Column c(Column::kUuid);
  for (const d::Uuid& id : ids) c.AddUuid(id);
  return c;
}

// One game_rule row: game_id, players_needed, draw_mode, prize_policy, prize_bps.
absl::StatusOr<d::GameRule> RuleOfRow(const PGresult* r, int i) {
  d::GameRule rule;
  ASSIGN_OR_RETURN(rule.players_needed, pg::Int32At(r, i, 1));
  ASSIGN_OR_RETURN(int64_t bps, pg::Int64At(r, i, 4));
  if (bps < 0 || bps > static_cast<int64_t>(d::kMaxPrizeBps)) {
    return absl::InvalidArgumentError(absl::StrCat("prize_bps ", bps, " not in 0..10000"));
  }
  rule.bps = static_cast<uint32_t>(bps);
  ASSIGN_OR_RETURN(rule.mode, d::ParseDrawMode(pg::Value(r, i, 2)));
  ASSIGN_OR_RETURN(rule.policy, d::ParsePrizePolicy(pg::Value(r, i, 3)));
  RETURN_IF_ERROR(rule.Validate());
  return rule;
}

// The rules of `games` and the default row, whose players_needed `default_players_needed`
// overrides when > 0. A broken rule stops the batch: it is never silently replaced.
absl::StatusOr<GameRules> LoadGameRules(PGconn* conn, const std::vector<d::Uuid>& games,
                                        int default_players_needed) {
  ASSIGN_OR_RETURN(
      pg::ResultPtr rows,
      pg::Exec(conn,
               "SELECT game_id, players_needed, draw_mode, prize_policy, prize_bps FROM game_rule "
               "WHERE game_id = ANY($1::uuid[]) OR game_id = $2::uuid",
               {UuidColumn(games).Param(), pg::Param::Text(kNilUuid)}));
  GameRules rules;
  std::optional<d::GameRule> default_rule;
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    const std::string game(pg::Value(rows.get(), i, 0));
    absl::StatusOr<d::GameRule> rule = RuleOfRow(rows.get(), i);
    if (!rule.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("game_rule ", game, " is invalid: ", rule.status().message()));
    }
    ASSIGN_OR_RETURN(d::Uuid id, d::ParseUuid(game));
    if (game == kNilUuid) {
      if (default_players_needed > 0) rule->players_needed = default_players_needed;
      default_rule = *rule;
    } else {
      rules.by_game[id] = *rule;
    }
  }
  if (!default_rule.has_value()) {
    return absl::FailedPreconditionError("game_rule has no default (nil UUID) row");
  }
  rules.default_rule = *default_rule;
  return rules;
}

// The server seed of a stored lottery: derived from the key named by its seed_key_id (checked
// against the stored commitment, so a different key under the same id is caught before anything
// is drawn), or, for lotteries created before derived seeds, the stored server_seed.
absl::StatusOr<d::Seed> StoredSeed(const IngestOptions& options, const d::Uuid& lottery_id,
                                   const PGresult* r, int row, int seed_col, int key_id_col,
                                   int commitment_col) {
  const std::string lid = d::FormatUuid(lottery_id);
  ASSIGN_OR_RETURN(std::string commitment, pg::DecodeByteaHex(pg::Value(r, row, commitment_col)));
  if (!pg::IsNull(r, row, key_id_col)) {
    const std::string key_id(pg::Value(r, row, key_id_col));
    if (options.seed_keys == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("lottery ", lid, " has a derived seed but this writer holds no seed key"));
    }
    ASSIGN_OR_RETURN(d::Seed seed, options.seed_keys->SeedFor(key_id, lottery_id));
    const d::Digest expected = d::Commitment(seed);
    if (commitment.size() != expected.size() ||
        !std::equal(expected.begin(), expected.end(),
                    reinterpret_cast<const uint8_t*>(commitment.data()))) {
      return absl::FailedPreconditionError(
          absl::StrCat("seed key '", key_id, "' does not reproduce the commitment of lottery ", lid,
                       ": a different key is configured under that id; refusing to draw"));
    }
    return seed;
  }
  if (pg::IsNull(r, row, seed_col)) {
    return absl::DataLossError(absl::StrCat("lottery ", lid, " has neither a seed nor a key id"));
  }
  // Created before derived seeds (migration 0003): the seed was stored.
  ASSIGN_OR_RETURN(std::string stored, pg::DecodeByteaHex(pg::Value(r, row, seed_col)));
  d::Seed seed;
  if (stored.size() != seed.size())
    return absl::DataLossError(absl::StrCat("lottery ", lid, ": server_seed is not 32 bytes"));
  std::copy(stored.begin(), stored.end(), seed.begin());
  return seed;
}

// The in_waiting and started lotteries of `games`, then every entry of them.
absl::Status LoadLotteries(PGconn* conn, const std::vector<d::Uuid>& games,
                           const IngestOptions& options, BatchState& state) {
  ASSIGN_OR_RETURN(pg::ResultPtr rows,
                   pg::Exec(conn,
                            "SELECT id, game_id, status, players_needed, draw_mode, prize_policy, "
                            "prize_bps, server_seed, seed_key_id, commitment FROM lottery "
                            "WHERE game_id = ANY($1::uuid[]) AND status IN ('in_waiting', "
                            "'started') ORDER BY created_at, id",
                            {UuidColumn(games).Param()}));
  const PGresult* r = rows.get();
  std::map<d::Uuid, StoredLottery*> by_id;
  std::vector<d::Uuid> ids;
  state.open.reserve(PQntuples(r));
  state.leftover.reserve(PQntuples(r));
  for (int i = 0; i < PQntuples(r); ++i) {
    ASSIGN_OR_RETURN(d::LotteryStatus status, d::ParseLotteryStatus(pg::Value(r, i, 2)));
    StoredLottery& l =
        (status == d::LotteryStatus::kInWaiting ? state.open : state.leftover).emplace_back();
    l.status = status;
    ASSIGN_OR_RETURN(l.id, UuidAt(r, i, 0));
    ASSIGN_OR_RETURN(l.game_id, UuidAt(r, i, 1));
    ASSIGN_OR_RETURN(l.players_needed, pg::Int32At(r, i, 3));
    l.rule.players_needed = l.players_needed;
    ASSIGN_OR_RETURN(l.rule.mode, d::ParseDrawMode(pg::Value(r, i, 4)));
    ASSIGN_OR_RETURN(l.rule.policy, d::ParsePrizePolicy(pg::Value(r, i, 5)));
    ASSIGN_OR_RETURN(int64_t bps, pg::Int64At(r, i, 6));
    if (bps < 0 || bps > static_cast<int64_t>(d::kMaxPrizeBps)) {
      return absl::DataLossError(
          absl::StrCat("lottery ", d::FormatUuid(l.id), ": prize_bps ", bps));
    }
    l.rule.bps = static_cast<uint32_t>(bps);
    ASSIGN_OR_RETURN(l.seed, StoredSeed(options, l.id, r, i, /*seed_col=*/7, /*key_id_col=*/8,
                                        /*commitment_col=*/9));
    ids.push_back(l.id);
  }
  for (auto* list : {&state.open, &state.leftover}) {
    for (StoredLottery& l : *list) by_id[l.id] = &l;
  }
  if (ids.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(pg::ResultPtr entries,
                   pg::Exec(conn,
                            "SELECT lottery_id, player_id, stake FROM lottery_entry "
                            "WHERE lottery_id = ANY($1::uuid[]) ORDER BY lottery_id, entry_no",
                            {UuidColumn(ids).Param()}));
  const PGresult* e = entries.get();
  for (int i = 0; i < PQntuples(e); ++i) {
    ASSIGN_OR_RETURN(d::Uuid lid, UuidAt(e, i, 0));
    d::Entry entry;
    ASSIGN_OR_RETURN(entry.player_id, UuidAt(e, i, 1));
    ASSIGN_OR_RETURN(entry.stake_minor, pg::Int64At(e, i, 2));
    by_id.at(lid)->entries.push_back(entry);
  }
  return absl::OkStatus();
}

// The lottery_entry rows stored under the event ids of `stakes` (for ClassifyRepeats).
absl::StatusOr<StoredStakes> LoadStoredStakes(PGconn* conn, const std::vector<BatchStake>& stakes) {
  StoredStakes stored;
  if (stakes.empty()) return stored;
  Column ids(Column::kUuid);
  for (const BatchStake& s : stakes) ids.AddUuid(s.stake.event_id);
  ASSIGN_OR_RETURN(pg::ResultPtr rows,
                   pg::Exec(conn,
                            "SELECT id, player_id, game_id, stake FROM lottery_entry "
                            "WHERE id = ANY($1::uuid[])",
                            {ids.Param()}));
  const PGresult* r = rows.get();
  for (int i = 0; i < PQntuples(r); ++i) {
    ASSIGN_OR_RETURN(d::Uuid id, UuidAt(r, i, 0));
    StakeFields f;
    ASSIGN_OR_RETURN(f.player_id, UuidAt(r, i, 1));
    ASSIGN_OR_RETURN(f.game_id, UuidAt(r, i, 2));
    ASSIGN_OR_RETURN(f.stake_minor, pg::Int64At(r, i, 3));
    stored.emplace(id, f);
  }
  return stored;
}

// The stored offsets of `partitions`, FOR UPDATE when `lock`.
absl::StatusOr<std::map<TopicPartition, int64_t>> SelectOffsets(
    PGconn* conn, const std::string& consumer_group, const std::vector<TopicPartition>& partitions,
    bool lock) {
  std::map<TopicPartition, int64_t> out;
  if (partitions.empty()) return out;
  Column topics(Column::kText), parts(Column::kInt4);
  for (const auto& [t, p] : partitions) {
    topics.AddBytes(t);
    parts.AddInt4(p);
  }
  ASSIGN_OR_RETURN(
      pg::ResultPtr rows,
      pg::Exec(conn,
               absl::StrCat("SELECT c.topic, c.partition, c.next_offset FROM consumer_offset c "
                            "JOIN unnest($2::text[], $3::int[]) AS u(t, p) ON c.topic = u.t AND "
                            "c.partition = u.p WHERE c.consumer_group = $1",
                            lock ? " ORDER BY c.topic, c.partition FOR UPDATE OF c" : ""),
               {pg::Param::Text(consumer_group), topics.Param(), parts.Param()}));
  const PGresult* r = rows.get();
  for (int i = 0; i < PQntuples(r); ++i) {
    ASSIGN_OR_RETURN(int32_t partition, pg::Int32At(r, i, 1));
    ASSIGN_OR_RETURN(int64_t next, pg::Int64At(r, i, 2));
    out[{std::string(pg::Value(r, i, 0)), partition}] = next;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::map<TopicPartition, int64_t>> Fence(
    PGconn* conn, const std::string& consumer_group,
    const std::map<TopicPartition, int64_t>& first_offset,
    const std::map<TopicPartition, std::optional<int64_t>>& expected) {
  Column topics(Column::kText), parts(Column::kInt4), offsets(Column::kInt8);
  std::vector<TopicPartition> all;
  for (const auto& [tp, first] : first_offset) {
    all.push_back(tp);
    auto it = expected.find(tp);
    if (it == expected.end() || !it->second.has_value()) {
      topics.AddBytes(tp.first);
      parts.AddInt4(tp.second);
      offsets.AddInt8(first);
    }
  }
  if (topics.size() > 0) {
    RETURN_IF_ERROR(pg::ExecCommand(
        conn,
        "INSERT INTO consumer_offset (consumer_group, topic, partition, next_offset) "
        "SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[]) ON CONFLICT DO NOTHING",
        {pg::Param::Text(consumer_group), topics.Param(), parts.Param(), offsets.Param()}));
  }
  ASSIGN_OR_RETURN(auto stored, SelectOffsets(conn, consumer_group, all, /*lock=*/true));
  std::map<TopicPartition, int64_t> differing;
  for (const auto& [tp, offset] : stored) {
    auto it = expected.find(tp);
    int64_t want =
        it != expected.end() && it->second.has_value() ? *it->second : first_offset.at(tp);
    if (offset != want) differing[tp] = offset;
  }
  return differing;
}

absl::Status LockGames(PGconn* conn, const std::vector<d::Uuid>& games) {
  if (games.empty()) return absl::OkStatus();
  std::set<int64_t> keys;
  for (const d::Uuid& g : games) keys.insert(GameLockKey(g));
  Column column(Column::kInt8);
  for (int64_t k : keys) column.AddInt8(k);
  // unnest() yields the keys in array order: ascending, in every writer.
  return pg::ExecCommand(conn, "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS u(k)",
                         {column.Param()});
}

absl::StatusOr<BatchState> LoadBatchState(PGconn* conn, const std::vector<d::Uuid>& games,
                                          const std::vector<BatchStake>& stakes,
                                          const IngestOptions& options) {
  BatchState state;
  if (games.empty()) return state;
  ASSIGN_OR_RETURN(state.rules, LoadGameRules(conn, games, options.default_players_needed));
  RETURN_IF_ERROR(LoadLotteries(conn, games, options, state));
  ASSIGN_OR_RETURN(state.stored, LoadStoredStakes(conn, stakes));
  return state;
}

absl::StatusOr<std::map<TopicPartition, int64_t>> ReadOffsets(
    PGconn* conn, const std::string& consumer_group,
    const std::vector<TopicPartition>& partitions) {
  return SelectOffsets(conn, consumer_group, partitions, /*lock=*/false);
}

}  // namespace lottery::writer::store
