// Relation schemas seen so far in one replication session.
#pragma once

#include <cstddef>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "lottery/cdc/pgoutput.h"

namespace lottery::cdc {

// pgoutput sends a Relation message before the first change of each relation in a session, and
// again after DDL on it (ALTER TABLE ... ADD COLUMN); tuples that follow use the latest one.
// Feed every decoded message to Observe() in stream order and look schemas up by OID.
//
// Clear() when a new replication session starts: the server then re-sends every Relation, and a
// schema left over from an older session must not be trusted.
class RelationCache {
 public:
  // Remembers a Relation (replacing an older schema of the same OID); ignores other messages.
  void Observe(const PgOutputMessage& message);
  void Upsert(Relation relation);

  // The latest schema of `oid`. Unknown OID -> kDataLoss: the stream skipped a Relation message
  // (or the cache was not fed every message), so the tuple cannot be interpreted. The pointer is
  // valid until the next Observe / Upsert / Clear.
  absl::StatusOr<const Relation*> Lookup(Oid oid) const;

  bool Contains(Oid oid) const { return relations_.contains(oid); }
  size_t size() const { return relations_.size(); }
  void Clear() { relations_.clear(); }

 private:
  absl::flat_hash_map<Oid, Relation> relations_;
};

}  // namespace lottery::cdc
