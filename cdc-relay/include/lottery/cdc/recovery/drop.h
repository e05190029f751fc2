// `drop`: remove the relay's slot when decommissioning (or before a restore, see
// docs/operations.md).
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "lottery/common/kafka.h"

namespace lottery::cdc::recovery {

struct DropOptions {
  std::string pg_dsn;
  kafka::Properties kafka_props;
  std::string slot;
  std::string checkpoint_topic;
  bool force = false;              // terminate the walsender holding the slot
  bool delete_checkpoint = false;  // tombstone the checkpoint (a later start is a first start)
};

// Drops the slot (kFailedPrecondition while a walsender holds it, unless force) and, if asked,
// writes a tombstone for the checkpoint in a transaction of the relay's transactional.id (which
// fences a running relay). Returns what was done and what it means, for the operator.
absl::StatusOr<std::string> DropSlot(const DropOptions& options);

}  // namespace lottery::cdc::recovery
