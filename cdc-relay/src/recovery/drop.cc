#include "lottery/cdc/recovery/drop.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "lottery/cdc/checkpoint.h"
#include "lottery/cdc/publisher.h"
#include "lottery/cdc/replication.h"
#include "lottery/common/pg.h"
#include "lottery/common/status.h"

namespace lottery::cdc::recovery {

namespace {

absl::Status TombstoneCheckpoint(const DropOptions& o) {
  ASSIGN_OR_RETURN(auto producer,
                   TransactionalProducer::Create(o.kafka_props, TransactionalIdForSlot(o.slot)));
  RETURN_IF_ERROR(producer->Begin());
  RETURN_IF_ERROR(
      producer->ProduceRecord({.topic = o.checkpoint_topic, .key = o.slot, .value = std::nullopt}));
  return producer->Commit(std::chrono::seconds(60));
}

}  // namespace

absl::StatusOr<std::string> DropSlot(const DropOptions& o) {
  ASSIGN_OR_RETURN(pg::ConnPtr conn, pg::Connect(o.pg_dsn));
  ASSIGN_OR_RETURN(SlotInfo info, InspectSlot(conn.get(), o.slot));
  std::string out;
  if (!info.exists) {
    absl::StrAppend(&out, "replication slot ", o.slot, " does not exist; nothing dropped.\n");
  } else {
    if (info.active) {
      if (!o.force) {
        return absl::FailedPreconditionError(
            absl::StrCat("replication slot ", o.slot, " is active (pid ", info.active_pid,
                         "): stop the relay first, or pass --force to terminate it"));
      }
      absl::Status ended = pg::ExecCommand(conn.get(), "SELECT pg_terminate_backend($1::int)",
                                           {pg::Param::Text(absl::StrCat(info.active_pid))});
      if (!ended.ok()) {
        // lottery_relay can end only its own role's sessions (PostgreSQL's rule).
        return absl::FailedPreconditionError(absl::StrCat(
            "could not terminate the walsender (pid ", info.active_pid, ") holding slot ", o.slot,
            ": ", ended.message(),
            ". A role can end only sessions of its own role: end it as its role or a superuser "
            "(SELECT pg_terminate_backend(",
            info.active_pid, ")), then run drop again"));
      }
      absl::Time deadline = absl::Now() + absl::Seconds(30);
      while (info.active && absl::Now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        ASSIGN_OR_RETURN(info, InspectSlot(conn.get(), o.slot));
      }
      absl::StrAppend(&out, "terminated the walsender (pid ", info.active_pid,
                      ") holding the slot.\n");
    }
    RETURN_IF_ERROR(pg::ExecCommand(conn.get(), "SELECT pg_drop_replication_slot($1)",
                                    {pg::Param::Text(o.slot)}));
    absl::StrAppend(
        &out, "dropped replication slot ", o.slot, " (confirmed_flush_lsn ",
        FormatLsn(info.confirmed_flush_lsn), ", it retained ", info.retained_bytes,
        " bytes of WAL).\n",
        "What this means: PostgreSQL no longer retains WAL for the relay. Outbox rows committed "
        "from "
        "now on reach Kafka only through `lottery-cdc-relay recover --slot-lost` (within the "
        "writer's outbox retention).\n");
  }
  if (o.delete_checkpoint) {
    RETURN_IF_ERROR(TombstoneCheckpoint(o));
    absl::StrAppend(&out, "deleted the checkpoint of ", o.slot, " on ", o.checkpoint_topic,
                    " (tombstone): the next start of the relay is a first start, which creates a "
                    "new slot and publishes only what is committed after it.\n");
  } else {
    absl::StrAppend(
        &out, "kept the checkpoint of ", o.slot, " on ", o.checkpoint_topic,
        ": the relay will refuse to start until `lottery-cdc-relay recover --slot-lost` "
        "ran (which publishes what was missed). Pass --delete-checkpoint when the relay "
        "is decommissioned for good or the database was replaced.\n");
  }
  return out;
}

}  // namespace lottery::cdc::recovery
