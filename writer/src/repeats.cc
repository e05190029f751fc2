#include "lottery/writer/repeats.h"

namespace lottery::writer {

std::vector<RepeatVerdict> ClassifyRepeats(const std::vector<Stake>& stakes,
                                           const StoredStakes& stored) {
  std::vector<RepeatVerdict> out(stakes.size());
  StoredStakes first_in_batch;
  for (size_t i = 0; i < stakes.size(); ++i) {
    const Stake& s = stakes[i];
    const StakeFields* first = nullptr;
    if (auto it = stored.find(s.event_id); it != stored.end()) {
      first = &it->second;
    } else if (auto jt = first_in_batch.find(s.event_id); jt != first_in_batch.end()) {
      first = &jt->second;
    } else {
      first_in_batch.emplace(s.event_id, StakeFields{s.player_id, s.game_id, s.stake_minor});
      continue;  // kFirst
    }
    if (auto reason = ConflictingDuplicate(*first, s)) {
      out[i] = RepeatVerdict{Occurrence::kConflict, std::move(*reason)};
    } else {
      out[i].occurrence = Occurrence::kDuplicate;
    }
  }
  return out;
}

}  // namespace lottery::writer
