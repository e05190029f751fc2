// `replay --dry-run`: the outbox events a slot still holds, decoded without consuming the slot.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/cdc/lsn.h"
#include "lottery/cdc/outbox_event.h"
#include "lottery/common/pg.h"

namespace lottery::cdc::recovery {

// One outbox event as the slot holds it, with its transaction's commit position.
struct ReplayedEvent {
  Lsn commit_lsn = 0;       // LSN of the commit record (what `--from-lsn/--to-lsn` compare with)
  Lsn end_lsn = 0;          // end of the commit record (what the relay checkpoints and confirms)
  int64_t commit_time = 0;  // microseconds since 2000-01-01 UTC
  OutboxEvent event;
};

struct PeekOptions {
  std::string slot;
  std::string publication;
  Lsn from_lsn = 0;  // only transactions with commit_lsn >= from_lsn
  Lsn to_lsn = 0;    // 0: all; else only transactions with commit_lsn <= to_lsn
};

// Decodes every outbox insert of the transactions the slot still holds (from its
// confirmed_flush_lsn on), in commit order, with pg_logical_slot_peek_binary_changes: the slot does
// not move. PostgreSQL refuses to peek a slot that a walsender streams (the running relay); then
// the slot is first copied into a TEMPORARY slot of this session
// (pg_copy_logical_replication_slot(slot, tmp, true)), which is peeked and dropped.
// `conn` must be a normal connection to the slot's database.
//
// Errors: kNotFound no such slot; kFailedPrecondition slot invalidated (wal_status lost) or not a
// pgoutput slot; kDataLoss any message or row that does not decode (never skipped); kUnavailable
// connection trouble.
absl::StatusOr<std::vector<ReplayedEvent>> PeekSlotEvents(PGconn* conn, const PeekOptions& options);

// One JSON object (no newline): lsn, end_lsn, commit_time, seq, txid, id, topic, key,
// aggregatetype, messageType, contentType, headers, and either `payload` (the protobuf JSON
// mapping, when content-type names a lottery.v1 message: "...; messageType=lottery.v1.X") or
// `payloadBase64`. A protobuf payload that does not parse -> kDataLoss.
absl::StatusOr<std::string> ReplayedEventJson(const ReplayedEvent& event);

}  // namespace lottery::cdc::recovery
