#include "lottery/cdc/recovery/replay.h"

#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/dynamic_message.h"
#include "google/protobuf/message.h"
#include "google/protobuf/util/json_util.h"
#include "lottery/cdc/pgoutput.h"
#include "lottery/cdc/record_guard.h"
#include "lottery/cdc/relay_core.h"
#include "lottery/cdc/replication.h"
#include "lottery/common/json.h"
#include "lottery/common/status.h"
#include "lottery/v1/award.pb.h"
#include "lottery/v1/lottery.pb.h"
#include "lottery/v1/stake.pb.h"

namespace lottery::cdc::recovery {

namespace {

// The generated lottery.v1 messages must be linked in for the descriptor pool to know them.
const google::protobuf::Descriptor* const kKnownMessages[] = {
    lottery::v1::AwardCreated::descriptor(), lottery::v1::LotteryCreated::descriptor(),
    lottery::v1::LotteryStarted::descriptor(), lottery::v1::StakeCreated::descriptor()};

// "application/x-protobuf; messageType=lottery.v1.AwardCreated" -> "lottery.v1.AwardCreated".
std::optional<std::string> MessageTypeParam(std::string_view content_type) {
  size_t pos = content_type.find("messageType=");
  if (pos == std::string_view::npos) return std::nullopt;
  std::string_view v = content_type.substr(pos + 12);
  size_t end = v.find(';');
  if (end != std::string_view::npos) v = v.substr(0, end);
  return std::string(absl::StripAsciiWhitespace(absl::string_view(v.data(), v.size())));
}

// The payload as a JSON value, or nullopt when it is neither a known protobuf message nor JSON.
absl::StatusOr<std::optional<std::string>> PayloadJson(const OutboxEvent& e) {
  absl::string_view ct(e.content_type.data(), e.content_type.size());
  std::optional<std::string> type = MessageTypeParam(e.content_type);
  if (absl::StartsWithIgnoreCase(ct, "application/x-protobuf") && type.has_value()) {
    (void)kKnownMessages;
    const google::protobuf::Descriptor* d =
        google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(*type);
    if (d == nullptr) return std::nullopt;
    std::unique_ptr<google::protobuf::Message> m(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(d)->New());
    // The content type can come from whoever produced the row (a dead-lettered stake carries
    // its producer's header): a payload that is not what it claims is shown raw, not an error.
    if (!m->ParseFromString(e.payload)) return std::nullopt;
    std::string json;
    google::protobuf::util::JsonPrintOptions opts;
    opts.preserve_proto_field_names = false;
    auto st = google::protobuf::util::MessageToJsonString(*m, &json, opts);
    if (!st.ok()) {
      return absl::DataLossError(absl::StrCat("event ", e.id, ": ", st.ToString()));
    }
    return json;
  }
  if (absl::StartsWithIgnoreCase(ct, "application/json")) {
    if (json::IsJson(e.payload)) return e.payload;
  }
  return std::nullopt;
}

// Decodes one transaction's worth of peeked rows at a time.
}  // namespace

absl::StatusOr<std::vector<ReplayedEvent>> PeekSlotEvents(PGconn* conn, const PeekOptions& o) {
  ASSIGN_OR_RETURN(SlotInfo info, InspectSlot(conn, o.slot));
  if (!info.exists)
    return absl::NotFoundError(absl::StrCat("replication slot ", o.slot, " does not exist"));
  if (info.lost()) {
    return absl::FailedPreconditionError(
        absl::StrCat("replication slot ", o.slot,
                     " was invalidated (wal_status=lost): it holds nothing to "
                     "replay; see `lottery-cdc-relay recover --slot-lost`"));
  }
  if (info.slot_type != "logical" || info.plugin != "pgoutput") {
    return absl::FailedPreconditionError(
        absl::StrCat("replication slot ", o.slot, " is not a logical pgoutput slot"));
  }
  std::string peek_slot = o.slot;
  if (info.active) {
    // A walsender holds the slot: peek a temporary copy (same confirmed_flush_lsn/restart_lsn),
    // which disappears with this session.
    ASSIGN_OR_RETURN(pg::ResultPtr r, pg::Exec(conn, "SELECT pg_backend_pid()"));
    peek_slot = absl::StrCat("replay_tmp_", std::string(pg::Value(r.get(), 0, 0)));
    RETURN_IF_ERROR(pg::ExecCommand(conn, "SELECT pg_copy_logical_replication_slot($1, $2, true)",
                                    {pg::Param::Text(o.slot), pg::Param::Text(peek_slot)}));
  }
  pg::Param upto = o.to_lsn == 0 ? pg::Param::Null() : pg::Param::Text(FormatLsn(o.to_lsn + 1));
  auto res = pg::Exec(conn,
                      "SELECT data FROM pg_logical_slot_peek_binary_changes($1, $2::pg_lsn, NULL, "
                      "'proto_version', '1', 'publication_names', $3)",
                      {pg::Param::Text(peek_slot), upto, pg::Param::Text(o.publication)});
  if (peek_slot != o.slot) {
    // Best effort: the temporary slot also goes when the session ends.
    (void)pg::ExecCommand(conn, "SELECT pg_drop_replication_slot($1)",
                          {pg::Param::Text(peek_slot)});
  }
  if (!res.ok()) return res.status();
  std::vector<ReplayedEvent> out;
  // The relay's own assembler: the same protocol checks (Begin/Commit pairing, the commit LSN,
  // relation OIDs) and the same reading of each outbox row.
  TxnAssembler assembler;
  for (int i = 0; i < PQntuples(res->get()); ++i) {
    auto where = [i](const absl::Status& st) {
      return absl::Status(st.code(), absl::StrCat("peeked change #", i, ": ", st.message()));
    };
    ASSIGN_OR_RETURN(std::string data, DecodeByteaHex(pg::Value(res->get(), i, 0)));
    absl::StatusOr<PgOutputMessage> message = DecodePgOutput(data);
    if (!message.ok()) return where(message.status());
    absl::StatusOr<std::optional<CommittedTxn>> txn = assembler.Feed(*message);
    if (!txn.ok()) return where(txn.status());
    if (!txn->has_value()) continue;
    CommittedTxn& c = **txn;
    if (c.commit_lsn < o.from_lsn || (o.to_lsn != 0 && c.commit_lsn > o.to_lsn)) continue;
    for (OutboxEvent& e : c.events) {
      out.push_back(ReplayedEvent{c.commit_lsn, c.end_lsn, c.commit_time, std::move(e)});
    }
  }
  return out;
}

absl::StatusOr<std::string> ReplayedEventJson(const ReplayedEvent& r) {
  const OutboxEvent& e = r.event;
  json::Json headers = json::Json::object();
  for (const auto& [name, value] : e.headers) headers[name] = value;
  json::Json out{{"lsn", FormatLsn(r.commit_lsn)},
                 {"end_lsn", FormatLsn(r.end_lsn)},
                 {"commit_time_us", r.commit_time},
                 {"seq", e.seq},
                 {"txid", e.txid},
                 {"id", e.id},
                 {"topic", e.topic},
                 {"key", e.aggregateid},
                 {"aggregatetype", e.aggregatetype},
                 {"messageType", e.type},
                 {"contentType", e.content_type},
                 {"headers", headers}};
  // What the relay would do with a row that can never be a record (record_guard.h).
  if (RecordCheck check = CheckRecord(e, kDefaultMaxRecordBytes); !check.ok()) {
    out["deadLetter"] = {{"error", std::string(RecordErrorLabel(check.error))},
                         {"detail", check.detail}};
  }
  ASSIGN_OR_RETURN(std::optional<std::string> payload, PayloadJson(e));
  if (payload.has_value()) {
    out["payload"] = json::Json::parse(*payload, nullptr, /*allow_exceptions=*/false);
  } else {
    out["payloadBase64"] =
        absl::Base64Escape(absl::string_view(e.payload.data(), e.payload.size()));
  }
  return json::Dump(out);
}

}  // namespace lottery::cdc::recovery
