#include "lottery/writer/lanes.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace lottery::writer {

std::vector<std::vector<RawMessage>> SplitIntoLanes(std::vector<RawMessage> batch, int lanes,
                                                    size_t min_per_lane) {
  std::vector<std::vector<RawMessage>> out;
  if (batch.empty()) return out;
  using Partition = std::pair<std::string, int32_t>;
  // Record count and first appearance of each partition.
  std::map<Partition, std::pair<size_t, size_t>> seen;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto [it, inserted] = seen.try_emplace({batch[i].topic, batch[i].partition}, 0, i);
    ++it->second.first;
  }
  size_t n = std::min(seen.size(), static_cast<size_t>(std::max(lanes, 1)));
  if (min_per_lane > 0) n = std::min(n, batch.size() / min_per_lane);
  if (n <= 1) {
    out.push_back(std::move(batch));
    return out;
  }
  std::vector<std::pair<Partition, std::pair<size_t, size_t>>> order(seen.begin(), seen.end());
  std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
    if (a.second.first != b.second.first) return a.second.first > b.second.first;
    return a.second.second < b.second.second;
  });
  std::vector<size_t> load(n, 0);
  std::map<Partition, size_t> lane_of;
  for (const auto& [partition, count_first] : order) {
    const size_t lane =
        static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
    load[lane] += count_first.first;
    lane_of[partition] = lane;
  }
  out.resize(n);
  for (RawMessage& m : batch) out[lane_of.at({m.topic, m.partition})].push_back(std::move(m));
  return out;
}

}  // namespace lottery::writer
