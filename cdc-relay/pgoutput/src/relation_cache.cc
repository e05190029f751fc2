#include "lottery/cdc/relation_cache.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace lottery::cdc {

void RelationCache::Observe(const PgOutputMessage& message) {
  if (const auto* relation = std::get_if<Relation>(&message)) Upsert(*relation);
}

void RelationCache::Upsert(Relation relation) {
  Oid oid = relation.oid;
  relations_.insert_or_assign(oid, std::move(relation));
}

absl::StatusOr<const Relation*> RelationCache::Lookup(Oid oid) const {
  auto it = relations_.find(oid);
  if (it == relations_.end()) {
    return absl::DataLossError(absl::StrCat("relation cache: no Relation message seen for OID ",
                                            oid,
                                            " in this session; the tuple cannot be interpreted"));
  }
  return &it->second;
}

}  // namespace lottery::cdc
