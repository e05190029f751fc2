// Repeated event ids in a batch: which stake is the first of its id, which is a harmless
// re-delivery, which a conflicting duplicate. Pure: the caller loads what is stored.
//
// "Same body" means the same canonical stake: player id, game id and stake in minor units, as
// parsed (so the wire form, key order, whitespace, "10" vs "10.00" and the uuid's case do not
// matter). A repeat is compared with what its id first stood for: the lottery_entry row stored
// under it (earlier batches, earlier writer runs), else its first occurrence in this batch.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "lottery/domain/uuid.h"
#include "lottery/writer/stake_parser.h"

namespace lottery::writer {

enum class Occurrence {
  kFirst,      // becomes an entry
  kDuplicate,  // the same stake again: counted, dropped
  kConflict,   // the same id with another stake: rejected ("conflicting duplicate: ...")
};

struct RepeatVerdict {
  Occurrence occurrence = Occurrence::kFirst;
  std::string reason;  // kConflict only: what differs (ConflictingDuplicate)
};

// Stored stakes by event id (lottery_entry).
using StoredStakes = absl::flat_hash_map<lottery::domain::Uuid, StakeFields>;

// One verdict per stake of `stakes` (consumption order). A stake whose id is in `stored` is never
// kFirst; within the batch the first occurrence of an id wins and later ones are compared with it.
std::vector<RepeatVerdict> ClassifyRepeats(const std::vector<Stake>& stakes,
                                           const StoredStakes& stored);

}  // namespace lottery::writer
