// The writes of the ingest transaction (batch_store.h): one set-based statement per table, each
// over unnest()ed binary array columns, so the round trips of a batch do not grow with its size.
#include "absl/strings/str_cat.h"
#include "batch_store.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"
#include "pg_columns.h"

namespace lottery::writer {

pg::Param Column::Param() const {
  std::string out;
  auto be = [&out](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
  };
  be(n_ == 0 ? 0 : 1);  // ndim
  be(has_null_ ? 1 : 0);
  be(oid_);
  if (n_ > 0) {
    be(static_cast<uint32_t>(n_));
    be(1);  // lower bound
  }
  return pg::Param::Bytes(out + data_);
}

namespace store {

namespace d = lottery::domain;

namespace {

std::string_view Text(d::LotteryStatus s) { return d::ToString(s); }
std::string_view Text(d::EntryStatus s) { return d::ToString(s); }

// Stored lotteries first (one that left in_waiting leaves the unique index "one open lottery per
// game" before a new one of its game enters it), then the new ones.
absl::Status WriteLotteries(PGconn* conn, const std::vector<PlannedLottery>& lotteries) {
  Column u_id(Column::kUuid), u_pc(Column::kInt4), u_ec(Column::kInt4), u_st(Column::kText);
  Column n_id(Column::kUuid), n_game(Column::kUuid), n_st(Column::kText), n_needed(Column::kInt4),
      n_pc(Column::kInt4), n_ec(Column::kInt4), n_mode(Column::kText), n_policy(Column::kText),
      n_bps(Column::kInt4), n_key(Column::kText), n_commit(Column::kBytea);
  for (const PlannedLottery& l : lotteries) {
    if (!l.is_new) {
      u_id.AddUuid(l.id);
      u_pc.AddInt4(l.player_count);
      u_ec.AddInt4(l.entry_count);
      u_st.AddBytes(Text(l.status));
      continue;
    }
    n_id.AddUuid(l.id);
    n_game.AddUuid(l.game_id);
    n_st.AddBytes(Text(l.status));
    n_needed.AddInt4(l.players_needed);
    n_pc.AddInt4(l.player_count);
    n_ec.AddInt4(l.entry_count);
    n_mode.AddBytes(d::ToString(l.rule.mode));
    n_policy.AddBytes(d::ToString(l.rule.policy));
    n_bps.AddInt4(static_cast<int32_t>(l.rule.bps));
    n_key.AddBytes(l.seed_key_id);
    n_commit.AddBytes(
        std::string_view(reinterpret_cast<const char*>(l.commitment.data()), l.commitment.size()));
  }
  if (u_id.size() > 0) {
    RETURN_IF_ERROR(pg::ExecCommand(
        conn,
        "UPDATE lottery l SET player_count = u.pc, entry_count = u.ec, status = u.st, "
        "started_at = CASE WHEN u.st <> 'in_waiting' THEN coalesce(l.started_at, now()) END, "
        "finished_at = CASE WHEN u.st = 'finished' THEN now() END "
        "FROM unnest($1::uuid[], $2::int[], $3::int[], $4::text[]) AS u(id, pc, ec, st) "
        "WHERE l.id = u.id",
        {u_id.Param(), u_pc.Param(), u_ec.Param(), u_st.Param()}));
  }
  if (n_id.size() == 0) return absl::OkStatus();
  return pg::ExecCommand(
      conn,
      "INSERT INTO lottery (id, game_id, status, players_needed, player_count, entry_count, "
      "draw_mode, prize_policy, prize_bps, seed_key_id, commitment, started_at, finished_at) "
      "SELECT id, g, st, pn, pc, ec, dm, pp, bps, k, cm, "
      "CASE WHEN st <> 'in_waiting' THEN now() END, CASE WHEN st = 'finished' THEN now() END "
      "FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int[], $5::int[], $6::int[], "
      "$7::text[], $8::text[], $9::int[], $10::text[], $11::bytea[]) "
      "AS u(id, g, st, pn, pc, ec, dm, pp, bps, k, cm)",
      {n_id.Param(), n_game.Param(), n_st.Param(), n_needed.Param(), n_pc.Param(), n_ec.Param(),
       n_mode.Param(), n_policy.Param(), n_bps.Param(), n_key.Param(), n_commit.Param()});
}

// The stored entries of stored lotteries that started or were drawn follow their lottery. Runs
// before this batch's entries are inserted (they are inserted in their final status).
absl::Status WriteStoredEntryStatuses(PGconn* conn, const std::vector<PlannedLottery>& lotteries) {
  Column lottery(Column::kUuid), status(Column::kText), winner(Column::kUuid);
  for (const PlannedLottery& l : lotteries) {
    if (!l.stored_entries_change) continue;
    lottery.AddUuid(l.id);
    // The status of every entry but the winner's.
    status.AddBytes(Text(l.status == d::LotteryStatus::kFinished ? d::EntryStatus::kFinished
                                                                 : d::EntryStatus::kStarted));
    l.award.has_value() ? winner.AddUuid(l.award->winner) : winner.AddNull();
  }
  if (lottery.size() == 0) return absl::OkStatus();
  return pg::ExecCommand(conn,
                         "UPDATE lottery_entry e SET status = CASE WHEN e.player_id = u.w THEN "
                         "'winner' ELSE u.st END "
                         "FROM unnest($1::uuid[], $2::text[], $3::uuid[]) AS u(l, st, w) "
                         "WHERE e.lottery_id = u.l",
                         {lottery.Param(), status.Param(), winner.Param()});
}

absl::Status WriteEntries(PGconn* conn, const std::vector<PlannedEntry>& entries) {
  if (entries.empty()) return absl::OkStatus();
  Column id(Column::kUuid), lottery(Column::kUuid), player(Column::kUuid), game(Column::kUuid),
      stake(Column::kInt8), status(Column::kText), no(Column::kInt4), topic(Column::kText),
      partition(Column::kInt4), offset(Column::kInt8);
  for (const PlannedEntry& e : entries) {
    id.AddUuid(e.id);
    lottery.AddUuid(e.lottery_id);
    player.AddUuid(e.player_id);
    game.AddUuid(e.game_id);
    stake.AddInt8(e.stake_minor);
    status.AddBytes(Text(e.status));
    no.AddInt4(e.entry_no);
    topic.AddBytes(e.source->topic);
    partition.AddInt4(e.source->partition);
    offset.AddInt8(e.source->offset);
  }
  ASSIGN_OR_RETURN(
      pg::ResultPtr inserted,
      pg::Exec(conn,
               "WITH ins AS (INSERT INTO lottery_entry (id, lottery_id, player_id, game_id, "
               "stake, status, entry_no, source_topic, source_partition, source_offset) "
               "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], "
               "$5::bigint[], $6::text[], $7::int[], $8::text[], $9::int[], $10::bigint[]) "
               "ON CONFLICT (id) DO NOTHING RETURNING 1) SELECT count(*) FROM ins",
               {id.Param(), lottery.Param(), player.Param(), game.Param(), stake.Param(),
                status.Param(), no.Param(), topic.Param(), partition.Param(), offset.Param()}));
  ASSIGN_OR_RETURN(int64_t n, pg::Int64At(inserted.get(), 0, 0));
  if (n != static_cast<int64_t>(entries.size())) {
    // The same event id arrived for another game through another writer meanwhile: the plan's
    // counts are off. Redo: the id is then seen as a repeat.
    return absl::AbortedError("entry id inserted concurrently under another game; redo");
  }
  return absl::OkStatus();
}

absl::Status WriteAwards(PGconn* conn, const std::vector<PlannedLottery>& lotteries) {
  Column id(Column::kUuid), lottery(Column::kUuid), player(Column::kUuid), sum(Column::kInt8);
  for (const PlannedLottery& l : lotteries) {
    if (!l.award.has_value()) continue;
    id.AddUuid(l.award->id);
    lottery.AddUuid(l.award->lottery_id);
    player.AddUuid(l.award->winner);
    sum.AddInt8(l.award->win_sum);
  }
  if (id.size() == 0) return absl::OkStatus();
  return pg::ExecCommand(conn,
                         "INSERT INTO lottery_award (id, lottery_id, player_id, win_sum) "
                         "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[])",
                         {id.Param(), lottery.Param(), player.Param(), sum.Param()});
}

// rejected_stake rows (ON CONFLICT DO NOTHING: a redone batch repeats them).
absl::Status WriteRejections(PGconn* conn, const std::vector<PlannedRejection>& rejections) {
  if (rejections.empty()) return absl::OkStatus();
  Column event(Column::kText), raw(Column::kBytea), length(Column::kInt8), sha(Column::kText),
      reason(Column::kText), topic(Column::kText), partition(Column::kInt4), offset(Column::kInt8);
  for (const PlannedRejection& r : rejections) {
    r.rejection.event_id.empty() ? event.AddNull() : event.AddBytes(r.rejection.event_id);
    raw.AddBytes(r.raw.kept);
    length.AddInt8(r.raw.length);
    sha.AddBytes(r.raw.sha256_hex);
    reason.AddBytes(r.rejection.reason);
    topic.AddBytes(r.source->topic);
    partition.AddInt4(r.source->partition);
    offset.AddInt8(r.source->offset);
  }
  return pg::ExecCommand(
      conn,
      "INSERT INTO rejected_stake (event_id, raw, raw_length, raw_sha256, reason, "
      "source_topic, source_partition, source_offset) "
      "SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::text[], $5::text[], "
      "$6::text[], $7::int[], $8::bigint[]) "
      "ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING",
      {event.Param(), raw.Param(), length.Param(), sha.Param(), reason.Param(), topic.Param(),
       partition.Param(), offset.Param()});
}

// One INSERT of all rows (ON CONFLICT (id) DO NOTHING: a redone transaction repeats ids).
absl::Status WriteOutbox(PGconn* conn, const std::vector<OutboxRow>& rows) {
  if (rows.empty()) return absl::OkStatus();
  Column id(Column::kUuid), at(Column::kText), aid(Column::kText), type(Column::kText),
      topic(Column::kText), ct(Column::kText), payload(Column::kBytea), headers(Column::kJsonb);
  for (const OutboxRow& r : rows) {
    ASSIGN_OR_RETURN(d::Uuid uuid, d::ParseUuid(r.id));
    id.AddUuid(uuid);
    at.AddBytes(r.aggregatetype);
    aid.AddBytes(r.aggregateid);
    type.AddBytes(r.type);
    topic.AddBytes(r.topic);
    ct.AddBytes(r.content_type);
    payload.AddBytes(r.payload);
    headers.AddJsonb(r.headers_json);
  }
  return pg::ExecCommand(conn,
                         "INSERT INTO outbox (id, aggregatetype, aggregateid, type, topic, "
                         "content_type, payload, headers) "
                         "SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], "
                         "$5::text[], $6::text[], $7::bytea[], $8::jsonb[]) "
                         "ON CONFLICT (id) DO NOTHING",
                         {id.Param(), at.Param(), aid.Param(), type.Param(), topic.Param(),
                          ct.Param(), payload.Param(), headers.Param()});
}

// The next offset to read, per partition (the rows exist: Fence claimed them).
absl::Status WriteOffsets(PGconn* conn, const std::string& consumer_group,
                          const std::map<TopicPartition, int64_t>& next_offsets) {
  if (next_offsets.empty()) return absl::OkStatus();
  Column topic(Column::kText), partition(Column::kInt4), next(Column::kInt8);
  for (const auto& [tp, n] : next_offsets) {
    topic.AddBytes(tp.first);
    partition.AddInt4(tp.second);
    next.AddInt8(n);
  }
  return pg::ExecCommand(
      conn,
      "UPDATE consumer_offset c SET next_offset = u.n, updated_at = now() "
      "FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, n) "
      "WHERE c.consumer_group = $1 AND c.topic = u.t AND c.partition = u.p",
      {pg::Param::Text(consumer_group), topic.Param(), partition.Param(), next.Param()});
}

}  // namespace

absl::Status WriteBatchPlan(PGconn* conn, const BatchPlan& plan,
                            const std::string& consumer_group) {
  RETURN_IF_ERROR(WriteLotteries(conn, plan.lotteries));
  RETURN_IF_ERROR(WriteStoredEntryStatuses(conn, plan.lotteries));
  RETURN_IF_ERROR(WriteEntries(conn, plan.entries));
  RETURN_IF_ERROR(WriteAwards(conn, plan.lotteries));
  RETURN_IF_ERROR(WriteRejections(conn, plan.rejections));
  RETURN_IF_ERROR(WriteOutbox(conn, plan.outbox));
  return WriteOffsets(conn, consumer_group, plan.next_offsets);
}

}  // namespace store
}  // namespace lottery::writer
