// The writes of rejected stakes (rejected_stake rows, DLQ outbox rows) and the read of stakes
// already stored under a batch's event ids (repeat detection, repeats.h).
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "internal.h"
#include "lottery/common/json.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"

namespace lottery::writer::internal {

namespace d = lottery::domain;

namespace {

// The DLQ outbox row of one rejection: the bounded raw prefix as payload, the evidence in headers.
OutboxRow DlqRow(const RawMessage& m, const Rejection& rej, const RawEvidence& raw,
                 const IngestOptions& options) {
  OutboxRow row;
  const std::string where = absl::StrCat(m.topic, "/", m.partition, "/", m.offset);
  row.id = d::FormatUuid(d::UuidV5(kDerivedIdNamespace, "dlq/" + where));
  row.aggregatetype = "stake";
  row.aggregateid = rej.event_id.empty() ? where : rej.event_id;
  row.type = "stakeRejected";
  row.topic = options.dlq_topic;
  // Fixed: a header the stake's producer controls must not change how the row is decoded.
  row.content_type = "application/octet-stream";
  // Header values are strings (the relay turns each into a Kafka header).
  json::Json headers{{"reason", rej.reason},
                     {"source-topic", m.topic},
                     {"source-partition", absl::StrCat(m.partition)},
                     {"source-offset", absl::StrCat(m.offset)},
                     {"raw-length", absl::StrCat(raw.length)},
                     {"raw-sha256", raw.sha256_hex},
                     {"raw-truncated", raw.truncated() ? "true" : "false"}};
  for (const auto& [name, value] : m.headers) {
    if (value.has_value() && (name == "uuid" || name == "content-type")) {
      headers[absl::StrCat("source-", name)] = Sanitize(*value, 200);
    }
  }
  row.headers_json = json::Dump(headers);
  row.payload = std::string(raw.kept);
  return row;
}

}  // namespace

absl::Status WriteRejections(PGconn* conn, const std::vector<RejectedRecord>& rejections,
                             const IngestOptions& options, std::vector<OutboxRow>& outbox) {
  if (rejections.empty()) return absl::OkStatus();
  ArrayLiteral r_event, r_raw, r_len, r_sha, r_reason, r_topic, r_part, r_off;
  for (const auto& [m, rej] : rejections) {
    RawEvidence raw = KeepRaw(m->value);
    rej.event_id.empty() ? r_event.AddNull() : r_event.Add(rej.event_id);
    r_raw.AddBytea(raw.kept);
    r_len.Add(raw.length);
    r_sha.Add(raw.sha256_hex);
    r_reason.Add(rej.reason);
    r_topic.Add(m->topic);
    r_part.Add(m->partition);
    r_off.Add(m->offset);
    outbox.push_back(DlqRow(*m, rej, raw, options));
  }
  return pg::ExecCommand(
      conn,
      "INSERT INTO rejected_stake (event_id, raw, raw_length, raw_sha256, reason, "
      "source_topic, source_partition, source_offset) "
      "SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::text[], $5::text[], "
      "$6::text[], $7::int[], $8::bigint[]) "
      "ON CONFLICT (source_topic, source_partition, source_offset) DO NOTHING",
      {pg::Param::Text(r_event.Finish()), pg::Param::Text(r_raw.Finish()),
       pg::Param::Text(r_len.Finish()), pg::Param::Text(r_sha.Finish()),
       pg::Param::Text(r_reason.Finish()), pg::Param::Text(r_topic.Finish()),
       pg::Param::Text(r_part.Finish()), pg::Param::Text(r_off.Finish())});
}

absl::StatusOr<StoredStakes> LoadStoredStakes(PGconn* conn, const std::vector<Stake>& stakes) {
  StoredStakes stored;
  if (stakes.empty()) return stored;
  BinaryArray ids(BinaryArray::kUuid);
  for (const Stake& s : stakes) ids.AddUuid(s.event_id);
  ASSIGN_OR_RETURN(pg::ResultPtr rows,
                   pg::Exec(conn,
                            "SELECT id, player_id, game_id, stake FROM lottery_entry "
                            "WHERE id = ANY($1::uuid[])",
                            {pg::Param::Bytes(ids.Finish())}));
  const PGresult* r = rows.get();
  for (int i = 0; i < PQntuples(r); ++i) {
    ASSIGN_OR_RETURN(d::Uuid id, d::ParseUuid(pg::Value(r, i, 0)));
    StakeFields f;
    ASSIGN_OR_RETURN(f.player_id, d::ParseUuid(pg::Value(r, i, 1)));
    ASSIGN_OR_RETURN(f.game_id, d::ParseUuid(pg::Value(r, i, 2)));
    std::string_view stake = pg::Value(r, i, 3);
    if (!absl::SimpleAtoi(absl::string_view(stake.data(), stake.size()), &f.stake_minor)) {
      return absl::DataLossError("lottery_entry.stake is not an integer");
    }
    stored.emplace(id, f);
  }
  return stored;
}

}  // namespace lottery::writer::internal
