// Draws inside the batch transaction, and the outbox helpers they share with ingest.cc.
#include <google/protobuf/util/json_util.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "internal.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"
#include "lottery/domain/award.h"
#include "lottery/domain/draw.h"
#include "lottery/domain/hex.h"
#include "spdlog/spdlog.h"

namespace lottery::writer::internal {

namespace d = lottery::domain;

void ArrayLiteral::Add(std::string_view text) {
  Sep();
  out_.push_back('"');
  for (char c : text) {
    if (c == '"' || c == '\\') out_.push_back('\\');
    out_.push_back(c);
  }
  out_.push_back('"');
}

void ArrayLiteral::AddBytea(std::string_view bytes) {
  Sep();
  // The element text is \x<hex>; inside a quoted array element the backslash is escaped.
  out_ += "\"\\\\x";
  out_ += d::ToHex(bytes);
  out_.push_back('"');
}

std::string BinaryArray::Finish() const {
  std::string out;
  auto be = [&out](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
  };
  be(n_ == 0 ? 0 : 1);  // ndim
  be(0);                // no NULLs
  be(oid_);
  if (n_ > 0) {
    be(static_cast<uint32_t>(n_));
    be(1);  // lower bound
  }
  return out + data_;
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

absl::Status InsertOutbox(PGconn* conn, const std::vector<OutboxRow>& rows) {
  if (rows.empty()) return absl::OkStatus();
  using B = BinaryArray;
  B id(B::kUuid), at(B::kText), aid(B::kText), type(B::kText), topic(B::kText), ct(B::kText),
      payload(B::kBytea), headers(B::kJsonb);
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
                         "$5::text[], $6::text[], "
                         "$7::bytea[], $8::jsonb[]) ON CONFLICT (id) DO NOTHING",
                         {pg::Param::Bytes(id.Finish()), pg::Param::Bytes(at.Finish()),
                          pg::Param::Bytes(aid.Finish()), pg::Param::Bytes(type.Finish()),
                          pg::Param::Bytes(topic.Finish()), pg::Param::Bytes(ct.Finish()),
                          pg::Param::Bytes(payload.Finish()), pg::Param::Bytes(headers.Finish())});
}

int64_t GameLockKey(const d::Uuid& game) {
  uint64_t k = 0;
  for (int i = 0; i < 8; ++i) k = (k << 8) | game[i];
  return static_cast<int64_t>(k);
}

namespace {

absl::StatusOr<d::Uuid> UuidCell(const PGresult* r, int row, int col) {
  return d::ParseUuid(pg::Value(r, row, col));
}

}  // namespace

absl::StatusOr<d::Seed> StoredLotterySeed(const IngestOptions& options, const d::Uuid& lottery_id,
                                          const PGresult* r, int row, int seed_col, int key_id_col,
                                          int commitment_col) {
  const std::string lid = d::FormatUuid(lottery_id);
  ASSIGN_OR_RETURN(std::string commitment, pg::DecodeByteaHex(pg::Value(r, row, commitment_col)));
  if (!PQgetisnull(r, row, key_id_col)) {
    if (options.seed_keys == nullptr) {
      return absl::FailedPreconditionError(
          absl::StrCat("lottery ", lid, " has a derived seed but this writer holds no seed key"));
    }
    ASSIGN_OR_RETURN(d::Seed seed,
                     options.seed_keys->SeedFor(pg::Value(r, row, key_id_col), lottery_id));
    const d::Digest expected = d::Commitment(seed);
    if (commitment.size() != expected.size() ||
        !std::equal(expected.begin(), expected.end(),
                    reinterpret_cast<const uint8_t*>(commitment.data()))) {
      return absl::FailedPreconditionError(
          absl::StrCat("seed key '", std::string(pg::Value(r, row, key_id_col)),
                       "' does not reproduce the commitment of "
                       "lottery ",
                       lid, ": a different key is configured under that id; refusing to draw"));
    }
    return seed;
  }
  if (PQgetisnull(r, row, seed_col)) {
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

absl::StatusOr<std::optional<DrawOutput>> DrawInMemory(const DrawInput& in,
                                                       const IngestOptions& options,
                                                       std::vector<OutboxRow>& outbox,
                                                       BatchResult& result) {
  const std::string lid = d::FormatUuid(in.lottery_id);
  const absl::Time now = absl::Now();
  auto participants = d::ParticipantsFromEntries(in.mode, in.entries);
  const d::Uuid award_id = d::UuidV5(kDerivedIdNamespace, "award/" + lid);
  absl::StatusOr<lottery::v1::AwardCreated> award =
      participants.ok() ? d::DrawAward(award_id, in.lottery_id, in.game_id, in.seed, in.mode,
                                       *participants, in.policy, in.bps, now)
                        : absl::StatusOr<lottery::v1::AwardCreated>(participants.status());
  if (!award.ok()) {
    // Bad data in a stored lottery: leave it started (visible, retried later), keep ingesting.
    spdlog::error("draw of lottery {} failed: {}", lid, award.status().ToString());
    ++result.draw_failures;
    return std::nullopt;
  }
  if (in.emit_started) {
    auto started = d::BuildLotteryStarted(in.lottery_id, in.game_id, *participants,
                                          d::EntriesDigest(*participants), now);
    ASSIGN_OR_RETURN(
        OutboxRow row,
        EventRow(options, started, d::UuidV5(kDerivedIdNamespace, "lotteryStarted/" + lid),
                 "lottery", lid, "lotteryStarted", options.lottery_topic));
    outbox.push_back(std::move(row));
  }
  ASSIGN_OR_RETURN(
      OutboxRow row,
      EventRow(options, *award, d::UuidV5(kDerivedIdNamespace, "awardCreated/" + lid),
               "lottery_award", award->player_id(), "lotteryAwardCreated", options.award_topic));
  outbox.push_back(std::move(row));
  ++result.lotteries_finished;
  ++result.awards;
  ASSIGN_OR_RETURN(d::Uuid winner, d::ParseUuid(award->player_id()));
  return DrawOutput{winner, award_id, award->win_sum_minor()};
}

absl::Status DrawLotteries(PGconn* conn, const std::vector<d::Uuid>& ids,
                           const std::set<d::Uuid>& emit_started, const IngestOptions& options,
                           std::vector<OutboxRow>& outbox, BatchResult& result) {
  if (ids.empty()) return absl::OkStatus();
  ArrayLiteral id_arr;
  for (const d::Uuid& id : ids) id_arr.AddUuid(id);
  const std::string ids_text = id_arr.Finish();
  ASSIGN_OR_RETURN(
      pg::ResultPtr lotteries,
      pg::Exec(
          conn,
          "SELECT id, game_id, draw_mode, prize_policy, prize_bps, server_seed, status, "
          "seed_key_id, commitment FROM lottery WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
          {pg::Param::Text(ids_text)}));
  ASSIGN_OR_RETURN(pg::ResultPtr entries,
                   pg::Exec(conn,
                            "SELECT lottery_id, player_id, stake FROM lottery_entry "
                            "WHERE lottery_id = ANY($1::uuid[]) ORDER BY lottery_id, entry_no",
                            {pg::Param::Text(ids_text)}));
  std::map<d::Uuid, std::vector<d::Entry>> by_lottery;
  for (int i = 0; i < PQntuples(entries.get()); ++i) {
    ASSIGN_OR_RETURN(d::Uuid lid, UuidCell(entries.get(), i, 0));
    ASSIGN_OR_RETURN(d::Uuid pid, UuidCell(entries.get(), i, 1));
    int64_t stake = std::stoll(std::string(pg::Value(entries.get(), i, 2)));
    by_lottery[lid].push_back(d::Entry{pid, stake});
  }

  ArrayLiteral fin_ids, winners, award_ids, award_lotteries, award_players, award_sums;
  for (int i = 0; i < PQntuples(lotteries.get()); ++i) {
    const PGresult* r = lotteries.get();
    if (pg::Value(r, i, 6) != "started") continue;  // drawn meanwhile (recovery race)
    DrawInput in;
    ASSIGN_OR_RETURN(in.lottery_id, UuidCell(r, i, 0));
    ASSIGN_OR_RETURN(in.game_id, UuidCell(r, i, 1));
    ASSIGN_OR_RETURN(in.mode, d::ParseDrawMode(pg::Value(r, i, 2)));
    ASSIGN_OR_RETURN(in.policy, d::ParsePrizePolicy(pg::Value(r, i, 3)));
    in.bps = static_cast<uint32_t>(std::stoul(std::string(pg::Value(r, i, 4))));
    ASSIGN_OR_RETURN(in.seed, StoredLotterySeed(options, in.lottery_id, r, i, /*seed_col=*/5,
                                                /*key_id_col=*/7, /*commitment_col=*/8));
    in.entries = std::move(by_lottery[in.lottery_id]);
    in.emit_started = emit_started.count(in.lottery_id) > 0;
    ASSIGN_OR_RETURN(std::optional<DrawOutput> out, DrawInMemory(in, options, outbox, result));
    if (!out.has_value()) continue;
    const std::string lid = d::FormatUuid(in.lottery_id);
    fin_ids.Add(lid);
    winners.AddUuid(out->winner);
    award_ids.AddUuid(out->award_id);
    award_lotteries.Add(lid);
    award_players.AddUuid(out->winner);
    award_sums.Add(out->win_sum);
  }
  if (fin_ids.size() == 0) return absl::OkStatus();
  RETURN_IF_ERROR(pg::ExecCommand(conn,
                                  "UPDATE lottery l SET status = 'finished', finished_at = now() "
                                  "FROM unnest($1::uuid[]) AS u(id) WHERE l.id = u.id",
                                  {pg::Param::Text(fin_ids.Finish())}));
  RETURN_IF_ERROR(
      pg::ExecCommand(conn,
                      "UPDATE lottery_entry e SET status = CASE WHEN e.player_id = u.w THEN "
                      "'winner' ELSE 'finished' END "
                      "FROM unnest($1::uuid[], $2::uuid[]) AS u(l, w) WHERE e.lottery_id = u.l",
                      {pg::Param::Text(fin_ids.Finish()), pg::Param::Text(winners.Finish())}));
  return pg::ExecCommand(
      conn,
      "INSERT INTO lottery_award (id, lottery_id, player_id, win_sum) "
      "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[])",
      {pg::Param::Text(award_ids.Finish()), pg::Param::Text(award_lotteries.Finish()),
       pg::Param::Text(award_players.Finish()), pg::Param::Text(award_sums.Finish())});
}

}  // namespace lottery::writer::internal
